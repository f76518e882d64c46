"""Data shipped with sndiag: a 300-clip sample of the Free Spoken Digit Dataset (CC BY-SA 4.0).

See ``fsdd/README.md`` beside the files for the source, the authors and the license.
"""
