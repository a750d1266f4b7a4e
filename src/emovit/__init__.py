"""emovit: speech emotion recognition with vertical-patch Vision Transformers (Kim & Lee, 2024)."""
__version__ = "0.1.0"
