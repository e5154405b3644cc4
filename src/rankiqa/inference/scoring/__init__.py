"""Scoring: which files (``inputs``), batches (``batch``), result rows (``results``), CPU
settings (``cpu``), the runtime choice (``choice``, ``onnx_runtime``) and the scoring path
without torch (``onnx_model``, ``views``)."""
