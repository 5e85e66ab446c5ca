"""The demo recipe at tiny sizes, every model trained in the run on the hf backends: seconds a stage."""

TINY = ["--retrain", "--base.backend", "hf", "--reviser.backend", "hf", "--train_data.per_level", "2",
        "--test_data.per_level", "2",
        "--stages.sample_train.sampling.n", "4", "--stages.label.rollouts.k", "4",
        "--stages.sample_trajectories.sampling.n", "8", "--stages.sample_test.sampling.n", "8",
        "--stages.train_prm.eval_every", "1", "--stages.eval_search.max_budget", "4",
        "--stages.train_reviser.eval_every", "1", "--stages.chains_train.chains", "2",
        "--stages.chains_train.length", "2", "--stages.train_orm.eval_every", "1", "--stages.chains_test.chains", "2",
        "--stages.chains_test.length", "2", "--stages.eval_revision.budget", "2", "--stages.eval_prm.max_n", "8",
        "--stages.bench_prm.min_per_kind", "1",
        "--stages.eval_revision_grid.max_budget", "2", "--stages.policy.budgets", "[2, 4]"]
