"""The PyTorch bridge (the ``torch`` extra; importing symcnn never imports torch): linear
CNNs and datasets from PyTorch to symcnn's theory, and back."""
