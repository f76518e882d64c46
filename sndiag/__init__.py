"""sndiag: should I normalize my spectrograms, and how?"""

__version__ = "0.1.0"
