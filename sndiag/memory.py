"""Memory bounds checked from shapes alone, before anything is decoded, read or computed.

Every path that builds a dataset in memory (audio extraction, ``.npy``/``.npz`` files, uploads)
knows the number of clips and the image shape before it does any work: from the file list and
the extraction parameters, or from the array's header. :func:`check_images_fit` refuses, there
and then, what would not fit:

* an image of more than ``limits.max_image_pixels`` pixels (``SNDIAG_MAX_IMAGE_PIXELS``): the
  statistics, masks and figures hold a few dozen maps of one image's size (a 3000 x 3000 array
  reached 3.8 GB in the statistics, and 105 MB of JSON per heatmap);
* a dataset of more than ``limits.max_dataset_mb`` (``SNDIAG_MAX_DATASET_MB``) of float32
  images: 100 000 one-sample WAVs make 3.1 GB of padded images from 6 MB of audio.

:func:`check_window` bounds an extraction's window (:data:`MAX_WINDOW_SAMPLES`), and
:func:`batch_clips` caps the clips per batch so one batch of signals stays near
:data:`BATCH_BYTES`: the memory of an extraction is then known before it starts.
"""

from __future__ import annotations

from collections.abc import Sequence

from sndiag.config import Limits, SpectrogramConfig
from sndiag.errors import LimitError, ParameterError

__all__ = ["BATCH_BYTES", "MAX_WINDOW_SAMPLES", "MB", "batch_clips", "check_images_fit", "check_window",
           "dataset_bytes"]

#: Bytes per MB in every ``*_mb`` limit.
MB = 1024 * 1024
#: Longest extraction window, in samples (64 MB of float32 signal per clip: 12.7 minutes at
#: 22.05 kHz). Past it one clip's signal is more than a whole default batch.
MAX_WINDOW_SAMPLES = 2**24
#: Signals held by one extraction batch: 64 clips of the default 3 s window take 17 MB; longer
#: windows get fewer clips per batch.
BATCH_BYTES = 64 * MB


def dataset_bytes(n_clips: int, shape: Sequence[int]) -> int:
    """Bytes of ``n_clips`` float32 images of ``shape``.

    Examples
    --------
    >>> dataset_bytes(100_000, (60, 130)) / MB
    2975.4638671875
    """
    pixels = 1
    for s in shape:
        pixels *= int(s)
    return int(n_clips) * pixels * 4


def check_images_fit(n_clips: int, shape: Sequence[int], limits: Limits, *, where: str,
                     streaming_hint: str = "") -> None:
    """Refuse images larger than ``limits.max_image_pixels`` or a dataset larger than
    ``limits.max_dataset_mb``, before any work.

    Parameters
    ----------
    n_clips : int
        Clips the dataset would hold (files found, rows of the array).
    shape : (int, int)
        ``(n_mels, n_frames)`` of one image.
    limits : Limits
    where : str
        What is being loaded, for the message.
    streaming_hint : str
        How to do the same work with bounded memory, appended to the dataset-size message
        (e.g. "use --out-dir").

    Raises
    ------
    LimitError
        Naming the size found, the limit and the variable to raise.

    Examples
    --------
    >>> check_images_fit(10, (60, 130), Limits(), where="x.npy")
    >>> check_images_fit(2, (3000, 3000), Limits(), where="x.npz")
    Traceback (most recent call last):
    ...
    sndiag.errors.LimitError: x.npz: images of 3000 x 3000 = 9000000 pixels exceed the limit of ...
    """
    pixels = dataset_bytes(1, shape) // 4
    if pixels > limits.max_image_pixels:
        dims = " x ".join(str(int(s)) for s in shape)
        raise LimitError(f"{where}: images of {dims} = {pixels} pixels exceed the limit of "
                         f"{limits.max_image_pixels} pixels; downsample them or raise "
                         "SNDIAG_MAX_IMAGE_PIXELS")
    size = dataset_bytes(n_clips, shape)
    if size > limits.max_dataset_mb * MB:
        hint = f"; {streaming_hint}" if streaming_hint else ""
        raise LimitError(f"{where}: {n_clips} clips of {pixels} pixels take {size / MB:.0f} MB "
                         f"in memory, above the limit of {limits.max_dataset_mb:g} MB{hint}; "
                         "or raise SNDIAG_MAX_DATASET_MB")


def check_window(config: SpectrogramConfig) -> None:
    """Refuse an extraction window of more than :data:`MAX_WINDOW_SAMPLES` samples.

    Examples
    --------
    >>> check_window(SpectrogramConfig())
    >>> check_window(SpectrogramConfig(hop_length=65536, n_frames=400))
    Traceback (most recent call last):
    ...
    sndiag.errors.ParameterError: the window of hop_length * (n_frames - 1) = 26148864 samples ...
    """
    if config.n_samples > MAX_WINDOW_SAMPLES:
        raise ParameterError(
            f"the window of hop_length * (n_frames - 1) = {config.n_samples} samples "
            f"({config.duration:.0f} s at sr={config.sr}) is above the largest supported, "
            f"{MAX_WINDOW_SAMPLES} ({MAX_WINDOW_SAMPLES * 4 // MB} MB of signal per clip); "
            "lower hop_length or n_frames")


def batch_clips(config: SpectrogramConfig, batch_size: int) -> int:
    """Clips per extraction batch: ``batch_size``, fewer when one batch of signals would hold
    more than :data:`BATCH_BYTES`.

    Examples
    --------
    >>> batch_clips(SpectrogramConfig(), 64)
    64
    >>> batch_clips(SpectrogramConfig(hop_length=8192, n_frames=1000), 64)
    2
    """
    per_clip = max(1, config.n_samples * 4)
    return max(1, min(int(batch_size), BATCH_BYTES // per_clip))
