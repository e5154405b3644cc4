"""Export: ONNX graphs of quality models (``onnx``), the preprocessing graph
(``protocol``), graph passes (``passes``) and the shipped graphs of packaged models
(``packaged``)."""
