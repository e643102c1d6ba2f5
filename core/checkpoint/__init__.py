"""Checkpoints as files: which one a setting names, how to reach it (hub or folder), its config and
tokenizer. No torch and no weights here: the remote client, the index and Ray's driver read
checkpoints through this package; only `kernels/` loads weights.

May import: `errors`, `registry`, `tokenization`, `display`. Never `kernels/`.
"""
