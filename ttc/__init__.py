"""ttc: test-time compute for LLM reasoning (Snell et al. 2024), trained and evaluated end to end.

The tree is the layer diagram; a layer imports only from layers below it, never from a sibling
group of its own rank (tests/test_layers.py enforces it, with no import cycle):

    4  ttc.pipeline    the stage graph, the local and Slurm runners, the report, the `ttc` command
    3  train | eval    trainers | evaluations (neither imports the other); each stage module
                       declares its contract (`STAGE`, ttc/stages/spec.py) and its report part
    2  ttc.stages      the sharded record-writing stages: sample, label, trajectories, chains, solve
    1  the library     ttc.lm (the LM protocol and its hf/vLLM backends), ttc.verifiers (PRM kinds),
                       ttc.search (strategies, their session and scheduler), ttc.revise (revision
                       chains), ttc.strategies (the one registry), ttc.policy (compute-optimal
                       policies and the `ttc solve` planner)
    0  data            records, configs and their codec, grading, prompts, the toy world

docs/extending.md shows where a new strategy, verifier kind or stage goes.
"""
