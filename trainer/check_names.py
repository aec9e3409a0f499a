"""Names of the asset checks the trainer reports over Pipes and the code location declares: one spelling for both.

Dependency-free on purpose: the code location imports it while the definitions load (the trainer image carries
only trainer/, so the trainer cannot import the names from robotics_assets).
"""

EVALUATION_GATE = "evaluation_gate"  # `evaluation_report`: blocks promotion when the success criteria fail
ONNX_PARITY = "onnx_parity"  # `onnx_policy`: the ONNX model matches the PyTorch policy
