"""The experiment's small CNN: the question's own kind of network, on PyTorch (optional).

The person who asks "should I standardize per pixel?" trains a convolutional network on
``60 x 130 x 1`` spectrogram images. :class:`SmallCNN` is such a network, sized for a CPU: three
blocks ``conv 3x3 -> ReLU -> max-pool 2x2`` (8, 16, 32 channels), global average pooling and one
dense layer, trained with Adam on minibatches of 64 clips. It has no normalization layer of its
own, so the scaling of its input is what the experiment compares; with ``input_norm=True`` it gets
the common remedy instead, a ``BatchNorm2d`` layer on the raw input (one mean and variance over
every pixel of the batch, as Keras' ``BatchNormalization()`` first layer on a ``(60, 130, 1)``
input has).

Training stops early when the loss on a validation part of the training clips has not improved
for :data:`PATIENCE` epochs, and the weights of the epoch with the lowest validation loss are kept.
Every epoch records the validation accuracy and loss, the training accuracy and loss (running
means over the epoch's minibatches, in training mode, as Keras reports them), and every minibatch
its training accuracy: the question's plots.

PyTorch is the optional extra ``sndiag[cnn]``; nothing here imports it until a network is built.
The device is chosen automatically (CUDA, then Apple's MPS, else the CPU, with as many threads as
the process may use); the seed fixes the initial weights and the order of the minibatches.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GroupShuffleSplit, StratifiedShuffleSplit

from sndiag.errors import ParameterError
from sndiag.settings import prefer_passive_openmp

__all__ = ["BATCH_SIZE", "CNN_WIDTHS", "PATIENCE", "VAL_SHARE", "CNNHistory", "SmallCNN",
           "cnn_device", "cnn_unavailable", "validation_split"]

#: Channels of the three conv blocks (a 3x3 conv, ReLU, 2x2 max-pool each).
CNN_WIDTHS: tuple[int, ...] = (8, 16, 32)
#: Clips per minibatch.
BATCH_SIZE = 32
#: Adam's learning rate.
LEARNING_RATE = 1e-3
#: Epochs without a lower validation loss before training stops.
PATIENCE = 3
#: Share of a training part held out for validation (early stopping and the curves).
VAL_SHARE = 0.2
#: Clips per forward pass when evaluating.
EVAL_BATCH = 256
INSTALL_HINT = ("pip install 'sndiag[cnn]' (for the CPU-only build of PyTorch, about 190 MB "
                "instead of several GB with CUDA, first: pip install torch --index-url "
                "https://download.pytorch.org/whl/cpu)")


def cnn_unavailable() -> str | None:
    """None when PyTorch can be imported, else what to install.

    Examples
    --------
    >>> cnn_unavailable() is None or "sndiag[cnn]" in cnn_unavailable()
    True
    """
    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):  # a broken or blocked installation
        spec = None
    if spec is None:
        return (f"classifier='cnn' needs PyTorch, which is not installed: {INSTALL_HINT}; or "
                "use classifier='mlp' for per-epoch curves")
    return None


def _torch() -> Any:
    """``import torch``, with OpenMP told to wait passively first (see
    :func:`~sndiag.settings.prefer_passive_openmp`)."""
    prefer_passive_openmp()
    import torch

    return torch


def _threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def cnn_device(device: str = "auto") -> str:
    """The device the CNN trains on: ``"cuda"`` or ``"mps"`` when present, else ``"cpu"``.

    Parameters
    ----------
    device : str
        ``"auto"`` chooses; anything else (``"cpu"``, ``"cuda:1"``) is returned as given.

    Returns
    -------
    str
    """
    if device != "auto":
        return device
    torch = _torch()

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def device_text(device: str) -> str:
    """``"cpu (2 threads)"`` or the accelerator's name, for notes and output."""
    if device == "cpu":
        return f"cpu ({_threads()} thread{'s' if _threads() > 1 else ''})"
    if device.startswith("cuda"):
        torch = _torch()
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return device


def validation_split(y: np.ndarray, groups: np.ndarray | None, *, share: float = VAL_SHARE,
                     random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split a training part into ``(fit, validation)`` indices, group-wise when grouped.

    With groups (e.g. speakers) whole groups go to the validation part, so early stopping
    watches groups the network does not train on, as the test part is; with fewer than 3
    groups, or none, the split is stratified by class.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
    groups : np.ndarray [shape=(n,)] or None
    share : float
        Share of clips (of groups, when grouped; at least one) held out.
    random_state : int

    Returns
    -------
    (fit_index, val_index) : tuple of np.ndarray

    Examples
    --------
    >>> y = np.repeat([0, 1], 10)
    >>> fit, val = validation_split(y, np.tile(list("abcde"), 4))
    >>> len(fit), len(val), len(set(np.tile(list("abcde"), 4)[val]))
    (16, 4, 1)
    """
    n = y.shape[0]
    if groups is not None and np.unique(groups).size >= 3:
        splitter = GroupShuffleSplit(n_splits=1, test_size=share, random_state=random_state)
        fit, val = next(splitter.split(np.zeros(n), y, groups))
        return np.sort(fit), np.sort(val)
    n_classes = np.unique(y).size
    n_val = max(n_classes, int(round(share * n)))
    if n - n_val < n_classes or np.unique(y, return_counts=True)[1].min() < 2:
        raise ParameterError(f"{n} training clips are too few to hold out a validation part "
                             "for the CNN's early stopping; add clips or use fewer folds")
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=random_state)
    fit, val = next(splitter.split(np.zeros(n), y))
    return np.sort(fit), np.sort(val)


@dataclass
class CNNHistory:
    """What one training run recorded, per epoch and per minibatch.

    Attributes
    ----------
    val_accuracy, val_loss : list of float
        On the validation part, after each epoch.
    train_accuracy, train_loss : list of float
        Means over each epoch's minibatches, in training mode (what the network saw while it
        learnt, as Keras reports them).
    batch_accuracy : list of float
        Training accuracy of every minibatch, over all epochs in order.
    batches_per_epoch : int
    best_epoch : int
        1-based epoch with the lowest validation loss; its weights are the ones kept.
    stopped_early : bool
        The validation loss had not improved for ``patience`` epochs when training ended: it
        had levelled off (otherwise training ended at the last epoch while it still fell).
    diverged : bool
        A minibatch loss was not finite: training stopped there.
    cancelled : bool
        ``should_stop`` or ``on_epoch`` asked to stop.
    """

    val_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    batch_accuracy: list[float] = field(default_factory=list)
    batches_per_epoch: int = 0
    best_epoch: int = 0
    stopped_early: bool = False
    diverged: bool = False
    cancelled: bool = False

    def curves(self) -> dict[str, list[float]]:
        """The five curves by their JSON names."""
        return {"val_accuracy": list(self.val_accuracy), "val_loss": list(self.val_loss),
                "train_accuracy": list(self.train_accuracy),
                "train_loss": list(self.train_loss),
                "batch_accuracy": list(self.batch_accuracy)}


def _network(shape: tuple[int, int], n_classes: int, widths: tuple[int, ...],
             input_norm: bool) -> Any:
    nn = _torch().nn

    layers: list[Any] = [nn.BatchNorm2d(1)] if input_norm else []
    c = 1
    for w in widths:
        # ceil_mode keeps a 1-pixel map alive on small inputs (tests, short clips)
        layers += [nn.Conv2d(c, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True)]
        c = w
    rows = shape[0]
    for _ in widths:
        rows = math.ceil(rows / 2)
    # max over time, per frequency row: a spoken event is short in a long padded clip, and a mel
    # band is not translation-invariant, so frequency positions are kept
    layers += [nn.AdaptiveMaxPool2d((rows, 1)), nn.Flatten(), nn.Linear(c * rows, n_classes)]
    return nn.Sequential(*layers)


class SmallCNN(ClassifierMixin, BaseEstimator):
    """A small CNN for ``(n_mels, n_frames)`` spectrogram images, scikit-learn style.

    Parameters
    ----------
    shape : (int, int)
        ``(n_mels, n_frames)``; :meth:`fit` and :meth:`predict` take clips flattened or not.
    widths : tuple of int
        Channels of the conv blocks.
    input_norm : bool
        Put a ``BatchNorm2d`` layer on the input (the remedy of feeding raw data to a network
        that normalizes it itself).
    epochs : int
        Most training epochs.
    batch_size : int
    learning_rate : float
    patience : int
        Early stopping: epochs without a lower validation loss before stopping.
    random_state : int
        Seeds the initial weights and the minibatch order.
    device : str
        ``"auto"`` (:func:`cnn_device`), ``"cpu"``, ``"cuda"``, ...
    n_threads : int, optional
        CPU threads (PyTorch's, for the whole process); default: every core this process may
        use.

    Attributes
    ----------
    classes_ : np.ndarray
    history_ : CNNHistory
    device_ : str
        The device it trained on.
    net_ : torch.nn.Module

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 16)
    >>> X = rng.normal(size=(32, 8, 12)).astype(np.float32) + 2.0 * y[:, None, None]
    >>> clf = SmallCNN(shape=(8, 12), epochs=2).fit(X[::2], y[::2], X_val=X[1::2], y_val=y[1::2])
    >>> len(clf.history_.val_accuracy), clf.predict(X[:3]).shape
    (2, (3,))
    """

    def __init__(self, *, shape: tuple[int, int] = (60, 130),
                 widths: tuple[int, ...] = CNN_WIDTHS, input_norm: bool = False,
                 epochs: int = 15, batch_size: int = BATCH_SIZE,
                 learning_rate: float = LEARNING_RATE, patience: int = PATIENCE,
                 random_state: int = 0, device: str = "auto",
                 n_threads: int | None = None) -> None:
        self.shape = shape
        self.widths = widths
        self.input_norm = input_norm
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.patience = patience
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads

    def _images(self, X: np.ndarray) -> Any:
        torch = _torch()
        a = np.ascontiguousarray(np.asarray(X, dtype=np.float32).reshape(-1, 1, *self.shape))
        return torch.from_numpy(a)

    def _evaluate(self, Xt: Any, target: Any) -> tuple[float, float, np.ndarray]:
        """``(accuracy, mean cross-entropy, probabilities)`` of the network in eval mode."""
        torch = _torch()
        self.net_.eval()
        probs, losses = [], []
        with torch.no_grad():
            for start in range(0, Xt.shape[0], EVAL_BATCH):
                logits = self.net_(Xt[start:start + EVAL_BATCH].to(self.device_))
                if target is not None:
                    losses.append(torch.nn.functional.cross_entropy(
                        logits, target[start:start + EVAL_BATCH].to(self.device_),
                        reduction="sum").item())
                probs.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
        p = np.concatenate(probs) if probs else np.zeros((0, len(self.classes_)), np.float32)
        if target is None:
            return math.nan, math.nan, p
        acc = float(np.mean(p.argmax(axis=1) == target.numpy())) if len(p) else math.nan
        loss = float(np.sum(losses) / max(1, len(p)))
        return acc, loss if math.isfinite(loss) else math.nan, p

    def fit(self, X: np.ndarray, y: np.ndarray, *, X_val: np.ndarray | None = None,
            y_val: np.ndarray | None = None, on_epoch: Callable[[], bool] | None = None,
            should_stop: Callable[[], bool] | None = None) -> SmallCNN:
        """Train on ``(X, y)``, stopping early on the loss of ``(X_val, y_val)``.

        Parameters
        ----------
        X : np.ndarray [shape=(n, n_mels, n_frames) or (n, n_mels * n_frames)]
        y : np.ndarray [shape=(n,)]
        X_val, y_val : np.ndarray, optional
            Validation clips; without them, no early stopping and the curves' validation
            values are NaN.
        on_epoch : callable() -> bool, optional
            Called after every epoch; False stops training (``history_.cancelled``).
        should_stop : callable() -> bool, optional
            Polled after every minibatch; True stops training (``history_.cancelled``).

        Returns
        -------
        self
        """
        torch = _torch()
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int | np.integer) \
                or self.epochs < 1:
            raise ParameterError(f"epochs={self.epochs!r} must be a positive integer")
        self.device_ = cnn_device(self.device)
        if self.device_ == "cpu":
            torch.set_num_threads(int(self.n_threads or _threads()))
        torch.manual_seed(int(self.random_state))
        if self.device_.startswith("cuda"):
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
        rng = np.random.default_rng(self.random_state)
        self.classes_, idx = np.unique(np.asarray(y), return_inverse=True)
        Xt, target = self._images(X), torch.as_tensor(idx, dtype=torch.long)
        has_val = X_val is not None and y_val is not None
        if has_val:
            # validation clips of a class absent from training cannot be scored by this network
            known = np.isin(np.asarray(y_val), self.classes_)
            has_val = bool(known.any())
            Xv = self._images(np.asarray(X_val)[known])
            tv = torch.as_tensor(np.searchsorted(self.classes_, np.asarray(y_val)[known]),
                                 dtype=torch.long)
        self.net_ = _network(tuple(self.shape), len(self.classes_), tuple(self.widths),
                             bool(self.input_norm)).to(self.device_)
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.learning_rate)
        h = CNNHistory()
        n = Xt.shape[0]
        n_batches = max(1, math.ceil(n / self.batch_size))
        h.batches_per_epoch = n_batches
        best_loss, best_state, wait = math.inf, None, 0
        for _epoch in range(int(self.epochs)):
            self.net_.train()
            seen = correct = 0
            loss_sum = 0.0
            # array_split evens the batch sizes: no batch of one clip for BatchNorm
            for batch in np.array_split(rng.permutation(n), n_batches):
                b = torch.as_tensor(batch)
                xb, yb = Xt[b].to(self.device_), target[b].to(self.device_)
                opt.zero_grad()
                logits = self.net_(xb)
                loss = torch.nn.functional.cross_entropy(logits, yb)
                if not torch.isfinite(loss):
                    h.diverged = True
                    break
                loss.backward()
                opt.step()
                hits = int((logits.argmax(dim=1) == yb).sum().item())
                h.batch_accuracy.append(hits / len(batch))
                seen += len(batch)
                correct += hits
                loss_sum += float(loss.item()) * len(batch)
                if should_stop is not None and should_stop():
                    h.cancelled = True
                    break
            if h.diverged or h.cancelled:
                break
            h.train_accuracy.append(correct / max(1, seen))
            h.train_loss.append(loss_sum / max(1, seen))
            if has_val:
                acc, vloss, _ = self._evaluate(Xv, tv)
            else:
                acc, vloss = math.nan, math.nan
            h.val_accuracy.append(acc)
            h.val_loss.append(vloss)
            if has_val and math.isfinite(vloss) and vloss < best_loss:
                best_loss, wait = vloss, 0
                h.best_epoch = len(h.val_loss)
                best_state = {k: v.detach().clone() for k, v in self.net_.state_dict().items()}
            elif has_val:
                wait += 1
            if on_epoch is not None and not on_epoch():
                h.cancelled = True
                break
            if has_val and wait >= self.patience:
                h.stopped_early = True
                break
        if best_state is not None:
            self.net_.load_state_dict(best_state)
        elif not has_val:
            h.best_epoch = len(h.train_loss)
        self.history_ = h
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities [shape=(n, n_classes)], in :attr:`classes_` order."""
        return self._evaluate(self._images(X), None)[2]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most probable class of each clip."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def fit_fold(scaler: Any, Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, yte: np.ndarray, *,
             groups: np.ndarray | None, shape: tuple[int, int], epochs: int, input_norm: bool,
             random_state: int, on_epoch: Callable[[], bool] | None = None,
             should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Fit ``scaler -> SmallCNN`` on one fold's training part and score it on the test part.

    The training part is split (:func:`validation_split`) into the clips the scaler and the
    network are fitted on and the validation clips that early stopping and the validation
    curves use; the test part is scored once, with the weights of the best validation epoch.

    Parameters
    ----------
    scaler : sklearn transformer or "passthrough"
        Unfitted; it is fitted on the fit part only.
    Xtr, ytr, Xte, yte : np.ndarray
        The fold's flattened training and test clips (masked and compressed) and labels.
    groups : np.ndarray or None
        Groups of the training clips (a group-wise validation part) or None.
    shape : (int, int)
    epochs : int
    input_norm : bool
        ``BatchNorm2d`` on the network's input (the ``batchnorm`` configuration).
    random_state : int
    on_epoch, should_stop : callable, optional
        See :meth:`SmallCNN.fit`.

    Returns
    -------
    dict
        ``accuracy``, ``correct`` (per test clip, 0/1), ``converged``, ``messages``,
        ``curves`` (:meth:`CNNHistory.curves`), ``best_epoch``, ``epochs_run``, ``cancelled``,
        ``device``, ``n_fit`` and ``n_val``.
    """
    from sklearn.base import clone

    fit, val = validation_split(ytr, groups, random_state=random_state)
    messages: list[str] = []
    if scaler == "passthrough":
        Zfit, Zval, Zte = Xtr[fit], Xtr[val], Xte
    else:
        step = clone(scaler)
        with np.errstate(all="ignore"):
            Zfit = np.asarray(step.fit_transform(Xtr[fit], ytr[fit]), dtype=np.float32)
            Zval = np.asarray(step.transform(Xtr[val]), dtype=np.float32)
            Zte = np.asarray(step.transform(Xte), dtype=np.float32)
    if not (np.isfinite(Zfit).all() and np.isfinite(Zval).all() and np.isfinite(Zte).all()):
        messages.append("the scaler gave non-finite values (set to 0 for the network)")
        Zfit, Zval, Zte = (np.nan_to_num(Z, nan=0.0, posinf=0.0, neginf=0.0)
                           for Z in (Zfit, Zval, Zte))
    clf = SmallCNN(shape=shape, input_norm=input_norm, epochs=epochs, random_state=random_state)
    clf.fit(Zfit, ytr[fit], X_val=Zval, y_val=ytr[val], on_epoch=on_epoch,
            should_stop=should_stop)
    h = clf.history_
    if h.diverged:
        messages.append(f"non-finite training loss at epoch {len(h.train_loss) + 1} (the "
                        "network diverged; the weights of its best epoch before are kept)")
    correct = clf.predict(Zte) == yte  # a diverged network answers its first class
    return {"accuracy": float(np.mean(correct)) if correct.size else math.nan,
            "correct": correct.astype(np.int8).tolist(), "converged": h.stopped_early,
            "messages": messages, "curves": h.curves(), "best_epoch": h.best_epoch,
            "epochs_run": len(h.val_loss), "cancelled": h.cancelled, "device": clf.device_,
            "n_fit": int(fit.size), "n_val": int(val.size)}
