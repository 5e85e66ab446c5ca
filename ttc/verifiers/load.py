"""The old names of the verifier spec (ttc/verifiers/spec.py), until their callers switch.

`PRMConfig` is `VerifierConfig` and `load_prm` is `load_verifier`: a recipe's `prm:` section
with the old fields (path, kind, backend, dtype, ...) means what it meant.
"""

from ttc.verifiers.spec import VerifierConfig as PRMConfig, load_verifier as load_prm

__all__ = ["PRMConfig", "load_prm"]
