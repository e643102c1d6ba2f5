"""Framework adapters over the qwen3_rag core, one subpackage per framework.

Each subpackage imports only its own framework; install it with the matching extra, e.g.
`pip install "qwen3-rag[langchain]"`.

May import: the core and one framework per subpackage. What adapters share is in `_shared.py`
(framework-free) and `_fields.py` (pydantic fields for LangChain and LlamaIndex).
"""
