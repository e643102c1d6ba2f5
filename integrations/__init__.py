"""Framework adapters over the qwen3_rag core, one subpackage per framework.

Each subpackage imports only its own framework; install it with the matching extra, e.g.
`pip install "qwen3-rag[langchain]"`.
"""
