"""CrossModalClassifier and CrossModalRegressor.

Each estimator groups the columns of X into modalities
(:mod:`skfusion._discovery`), builds a :class:`~skfusion.nn.CrossModalNet`
with one encoder per modality, a fusion and a head, and trains it through a
skorch ``NeuralNet`` that it owns as ``net_`` (composition, not inheritance,
so the estimator keeps an explicit signature and sklearn's rules). What the
two share is in :mod:`skfusion._base`; each owns its target here.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import log_expit, log_softmax
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, column_or_1d
from torch import nn

from ._base import _BaseCrossModal
from ._multilabel import check_labels, label_names, label_weights
from ._regressor import CrossModalRegressor
from ._semisupervised import LabeledScoreMixin, split_unlabeled, zero_unlabeled
from ._training import row_weights
from ._validation import check_label_types, plain

__all__ = ["CrossModalClassifier", "CrossModalRegressor"]


class CrossModalClassifier(LabeledScoreMixin, ClassifierMixin, _BaseCrossModal):
    """Classifier that fuses several modalities with a PyTorch network.

    The columns of X are grouped into modalities by their ``"<name>__"``
    prefix (what a ``ColumnTransformer`` with pandas output gives), or by
    ``modalities=``, or X is a dict of arrays. Each modality gets an encoder
    into a shared space Z of size ``latent_dim`` (an MLP for vectors, a small
    CNN for images, a learnt token embedding for token ids), the embeddings
    are fused, and a head predicts the classes. Training runs through
    skorch, on CPU or GPU.

    y is binary or multiclass (one label per row: a softmax over the
    classes, cross-entropy loss) or multilabel (a 0/1 indicator matrix, one
    column per label: a sigmoid per label, binary cross-entropy per label,
    as scikit-learn's ``MLPClassifier``).

    Parameters
    ----------
    modalities : dict or None, default=None
        ``{name: columns}`` or ``{name: {"columns": ..., "kind": "vector" |
        "image" | "tokens", "shape": (C, H, W), "missing": column,
        "vocab_size": V}}``, columns as names or positions. None: group by
        the ``"<name>__"`` prefix of the column names; a matrix with no
        prefixes is one modality. Token columns need no declaration when
        they come from a TextTokenizer (their names carry the vocabulary
        size); declared by hand without ``vocab_size``, the vocabulary is
        the largest id seen in fit plus one.
    latent_dim : int, default=32
        Size of each modality's embedding in the shared space Z.
    hidden_dims : tuple of int, default=()
        Hidden layer sizes of the vector (MLP) encoders. The default, no
        hidden layer, makes each vector encoder a linear projection of the
        standardised features into Z; the head and the CNN carry the
        non-linearity. Deeper encoders overfit on a few thousand rows.
    head_dims : tuple of int, default=(64,)
        Hidden layer sizes of the prediction head on the fused Z.
    cnn_channels : tuple of int, default=(16, 32)
        Channels of each stage of the image (CNN) encoders.
    token_encoder : {"mean", "conv", "transformer"}, default="mean"
        Sequence model of the token modalities (a TextTokenizer's output),
        after a learnt token embedding (see
        :class:`skfusion.nn.encoders.TokenEncoder`): "mean" pools the word
        embeddings (a bag of words); "conv" adds a 1-D convolution over
        3-token windows, so short phrases such as "no fever" count; and
        "transformer" adds one transformer layer with learnt positions.
    token_embedding_dim : int, default=64
        Size of the learnt token embeddings.
    sequence_encoder : {"gru", "transformer"}, default="gru"
        Model of the time-series modalities (a TimeSeriesLoader's output):
        a masked GRU or one masked transformer layer over the values and
        their observation mask (see :class:`skfusion.nn.sequence.SequenceEncoder`).
    dropout : float, default=0.3
        Dropout after each hidden layer of the encoders and the head.
    fusion : {"concat", "late", "gated", "attention", "low_rank", "film", \
"cross_attention"}, default="concat"
        How the modality embeddings are combined (see
        :mod:`skfusion.nn.fusion`): "concat" concatenates them; "late" gives
        each modality its own head and combines the predictions with learned
        weights; "gated" is a gated multimodal unit (per-row learned gates);
        "attention" a small transformer over one token per modality plus a
        summary token; "low_rank" low-rank multimodal tensor fusion with rank
        ``fusion_rank``; "film" lets the vector (tabular) modalities scale
        and shift every stage of the image and token encoders (FiLM/DAFT,
        see ``conditioning``), then concatenates; "cross_attention" runs 2
        transformer layers over every modality's tokens (image patches of
        the last CNN stage, the token sequence, 4 learned tokens per vector
        modality) with a summary token. A modality absent in a row (its
        ``missing`` column is 1) is masked by every fusion, never fed as
        zeros; a row with no modality present gets one learned prediction
        shared by all such rows.
    fusion_rank : int, default=4
        Rank of the "low_rank" fusion.
    conditioning : dict of str to list of str or None, default=None
        Used by ``fusion="film"`` only: ``{conditioned: [conditioning,
        ...]}`` maps an image or token modality to the vector modalities
        whose embeddings modulate its encoder. None: every vector modality
        conditions every image and token modality. A conditioning modality
        absent in a row leaves that row unmodulated (scale 1, shift 0).
    alignment : {"contrastive", "mse"} or None, default=None
        An extra training loss that pulls a patient's modality embeddings
        together in the shared space Z (f_i(x_i) ~ f_j(x_j)), over every pair
        of modalities present in a row: "contrastive" is a symmetric InfoNCE
        across the batch, "mse" the squared distance of the L2-normalised
        embeddings. See :func:`skfusion.nn.losses.alignment_loss`.
    alignment_weight : float, default=0.1
        Weight of the alignment loss added to the task loss.
    pretrain : {"contrastive"}, default="contrastive"
        The self-supervised pretraining of ``pretrain_epochs``: the
        contrastive alignment loss alone (as ``alignment="contrastive"``).
    pretrain_epochs : int, default=0
        Epochs of self-supervised pretraining before the supervised fit
        (0: none). The encoders learn the shared space Z from every row of X
        with at least two modalities present, labeled or not, without
        reading y; the supervised fit then starts from them. Needs two or
        more encoded modalities; ``pretrain_loss_curve_`` holds its losses.
    unlabeled_label : object, default=None
        The value of y that marks a row without a target (scikit-learn's
        semi-supervised convention is ``-1``; ``np.nan`` for a regressor).
        Those rows serve the pretraining and the alignment loss only, never
        the supervised loss (with neither, they are dropped); ``score`` and
        :func:`skfusion.metrics.labeled_scorer` leave them out. None: every
        row is labeled, and ``-1`` is a class like any other.
    wide_alpha : float, default=1e-6
        L2 penalty of the wide path: ``wide_alpha * ||W||^2 / 2`` is added
        to the mean training loss (the wide path is a linear model over the
        sparse terms of a ``wide`` modality, e.g. from
        :class:`~skfusion.preprocessing.WideFeatures`, added to the output:
        Wide & Deep). For a multiclass problem, the same fit as
        scikit-learn's multinomial ``LogisticRegression(C=C)`` is
        ``wide_alpha = 1 / (C * n_samples)``; for a binary one (two softmax
        logits, both penalised, where scikit-learn fits one vector) it is
        ``2 / (C * n_samples)``. Ignored without a wide modality.
    wide_lr : float or "auto", default="auto"
        Learning rate of the wide path (its own optimizer parameter group,
        without weight decay): a linear model over rare terms needs larger
        steps than the network. "auto" is 0.01 for the classifier; for the
        regressor, 0.01 up to 1,000 training rows and ``0.01 *
        sqrt(1000 / n_samples)`` beyond (the squared loss overfits the
        wide path of a large table at 0.01). Both were measured on the
        clothing-reviews table at 1,000, 5,000 and 23,486 rows (see
        benchmarks/README.md). The value used is ``wide_lr_``.
    modality_dropout : float, default=0.0
        During training, mark each present modality absent in a row with this
        probability (never all of a row's modalities), so that predictions
        degrade gracefully when a modality is missing at predict time.
    optimizer : {"adamw", "adam", "sgd"} or torch optimizer class, default="adamw"
        "sgd" is SGD with momentum 0.9 (as scikit-learn's MLP). A class is
        called as ``optimizer(params, lr=lr, weight_decay=weight_decay)``.
    lr : float, default=1e-3
        Learning rate.
    lr_schedule : {"constant", "cosine"}, default="cosine"
        "cosine" decays every learning rate (the wide path's too) to 0 over
        ``max_epochs`` along a half cosine, stepped once per epoch.
    weight_decay : float, default=1e-4
        L2 penalty passed to the optimizer.
    batch_size : int, default=64
        Training batch size (prediction uses batches of at least 1024).
    max_epochs : int, default=10
        Number of passes over the training data (fewer with early stopping).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (stratified; a random
        split for a multilabel y) and stop when the validation loss has not
        improved by ``tol`` (relative) for ``n_iter_no_change`` epochs; the
        best weights are restored.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=5
    tol : float, default=1e-4
    class_weight : dict, list of dict, "balanced" or None, default=None
        Weights of the classes in the loss, as in scikit-learn: ``{class:
        weight}`` or "balanced" (``n_samples / (n_classes * count)``). For a
        multilabel y, "balanced" weighs each label on its own (the
        positives of label ``l`` by ``n / (2 * n_pos_l)``, its negatives by
        ``n / (2 * n_neg_l)``), and a list of one dict per label,
        ``[{0: w0, 1: w1}, ...]``, gives each label's weights (one dict
        raises an error).
    device : {"cpu", "cuda", "auto"} or str, default="cpu"
        Torch device. "auto" uses CUDA when available; "cuda" without CUDA
        falls back to the CPU with a warning. A model fitted on a GPU
        unpickles and predicts on a CPU-only machine (it is loaded on the
        CPU with a ``DeviceWarning``).
    amp : {"bf16", "fp16"} or None, default=None
        Mixed precision in training and prediction: ``torch.autocast`` with
        bfloat16 (no loss scaling needed) or float16 (with a gradient
        scaler against underflow). Weights and optimizer state stay float32
        and outputs are returned as float32. Worth it on recent GPUs; on a
        CPU, bfloat16 autocast runs but is rarely faster.
    n_jobs : int or None, default=None
        Worker processes that decode lazily loaded images
        (:class:`~skfusion.preprocessing.LazyImages` inputs) batch by batch.
        None or 1 decodes in the main process; -1 uses every CPU. Has no
        effect on inputs held in memory.
    n_threads : "auto", int or None, default="auto"
        torch intra-op threads during ``fit``, ``predict`` and
        ``transform``; the caller's setting is restored afterwards. "auto"
        gives small networks (vector encoders, token bags, the wide path:
        under 1e5 multiply-adds per row) 1 thread, as fast as two on an
        idle machine and several times faster on a busy one, and networks
        with an image or a token convolution or transformer the caller's
        budget, ``torch.get_num_threads()``, which joblib's workers and
        ``threadpoolctl.threadpool_limits`` already lower. On a shared
        machine, ``n_threads=1`` is the safe choice for those too. An int
        is used as given; None leaves torch's setting alone.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout and the validation
        split. The same seed and data give identical predictions on CPU
        with the same number of torch threads (a different thread count
        changes the order of float reductions: results then agree to about
        1e-3). Torch's global random state is left untouched.
    verbose : int, default=0
        When > 0, ``fit`` prints the modalities it found and skorch's table
        of losses (and seconds) per epoch, as each epoch ends.
    progress : bool, default=False
        Show a progress bar over the epochs of ``fit`` on stderr (tqdm: a
        widget in Jupyter, a text bar in a terminal), with the training
        loss. It ends at ``max_epochs``, or at the epoch where early
        stopping stopped.
    dp_epsilon : float or None, default=None
        Differentially private training, DP-SGD through Opacus (``pip
        install "skfusion[privacy]"``): the target ε of an (ε, δ) guarantee
        on the network's weights against adding or removing one training
        row. Each step takes every row with probability ``batch_size /
        n_samples`` (Poisson sampling), clips each row's gradient to the
        norm ``dp_max_grad_norm`` and adds Gaussian noise, calibrated by an
        RDP accountant so that ``max_epochs`` epochs spend at most ε (the ε
        spent: ``epsilon_``, and per epoch ``net_.history[:, "epsilon"]``).
        Refused, with the fix in the message: ``alignment="contrastive"``
        and ``CrossModalSurvival(loss="cox")`` (they couple the rows of a
        batch), ``early_stopping=True`` (the validation rows would choose
        the model without noise) and ``amp``. None: no privacy. What the
        guarantee does not cover: see the Notes.
    dp_delta : float or None, default=None
        δ of the guarantee; None is ``1 / n_samples**1.1``, below ``1 /
        n_samples`` (a larger δ is refused). The value used is ``delta_``.
    dp_max_grad_norm : float, default=1.0
        The norm each row's gradient is clipped to (with ``dp_epsilon``).
    dp_statistics : {"data", "none"}, default="data"
        Where the encoders' standardisation statistics come from: "data",
        the training rows (outside the privacy guarantee); "none", nowhere
        (shift 0, scale 1): standardise with public statistics before the
        estimator. "none" also leaves the regressor's targets unscaled and
        the discrete survival model's hazard offsets at 0.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,) or (n_labels,)
        The class labels; for a multilabel y, ``np.arange(n_labels)`` (the
        column positions of y, as ``unique_labels`` and ``MLPClassifier``).
    n_outputs_ : int
        Number of labels (multilabel y only).
    modalities_ : dict of str to ModalitySpec
        The modalities found in fit (:class:`~skfusion.ModalitySpec`): kind,
        row shape, columns.
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the CrossModalNet and
        ``net_.history`` the training history.
    n_iter_ : int
        Epochs run.
    wide_lr_ : float
        The wide path's learning rate used in fit (``wide_lr`` resolved).
    loss_curve_ : list of float
        Training loss per epoch.
    validation_loss_curve_ : list of float
        Validation loss per epoch (with ``early_stopping=True``).
    epsilon_, delta_ : float
        With ``dp_epsilon``: the privacy spent, ε (RDP accountant, at most
        ``dp_epsilon``) at δ.
    noise_multiplier_ : float
        With ``dp_epsilon``: the noise's standard deviation over
        ``dp_max_grad_norm``.
    n_features_in_ : int
        Number of columns of a 2-D X (absent for dict input).
    feature_names_in_ : ndarray of str
        Column names of a DataFrame X.

    See Also
    --------
    CrossModalRegressor : The same network for continuous targets.

    Notes
    -----
    ``sample_weight`` and ``class_weight`` multiply each row's loss (for a
    multilabel y, ``class_weight`` weighs each label's term of a row); the
    combined weights are rescaled to mean 1 over the training rows (and
    labels), so the learning rate keeps its meaning.

    A multilabel y needs both values in every label: a column that is 0 (or
    1) in every row raises an error naming it. ``predict_proba`` gives each
    label's probability, ``predict`` a 0/1 int matrix (threshold 0.5), and
    ``score`` the subset accuracy, as in scikit-learn.

    Differential privacy (``dp_epsilon``) protects the network's weights,
    and what is computed from them alone (predictions, ``transform``),
    against adding or removing one training row, all its modalities. Not
    covered, because it is learnt from the rows without noise: the
    encoders' standardisation statistics (unless ``dp_statistics="none"``),
    the classes of y and the label counts of ``class_weight="balanced"``,
    the training losses (``loss_curve_``, ``net_.history``), and whatever
    preprocessing was fitted on the rows before the estimator (a
    vocabulary, an imputer's means). ``sample_weight`` and
    ``class_weight`` multiply a row's loss before its gradient is clipped,
    so each row's influence stays bounded by ``dp_max_grad_norm``.

    Persistence: pickle, joblib, ``copy.deepcopy`` and ``skops.io`` save a
    fitted estimator as plain data (the network's weights and statistics as
    NumPy arrays, its history as lists), so ``skops.io.load`` needs only
    this class to be trusted. Loading rebuilds the network in eval mode on
    the device it was fitted on (on the CPU, with a ``DeviceWarning``, when
    that GPU is absent); it predicts and transforms exactly as before. The
    optimizer state is not kept: ``fit`` always starts afresh.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skfusion import CrossModalClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(200, 4)),
    ...                  columns=["lab__a", "lab__b", "vital__c", "vital__d"])
    >>> y = np.where(X["lab__a"] + X["vital__c"] > 0, "sick", "well")
    >>> clf = CrossModalClassifier(max_epochs=20, random_state=0).fit(X, y)
    >>> list(clf.modalities_)
    ['lab', 'vital']
    >>> clf.predict(X.iloc[:3]).tolist() == y[:3].tolist()
    True
    >>> clf.predict_proba(X.iloc[:3]).shape
    (3, 2)
    """

    _parameter_constraints: dict = {
        **_BaseCrossModal._parameter_constraints,
        "class_weight": [dict, list, StrOptions({"balanced"}), None],
    }
    # a 2-D y passes validate_data; _check_y keeps it only if multilabel
    _y_validation = {"multi_output": True, "y_numeric": False}

    @staticmethod
    def _auto_wide_lr(n_samples):
        return 0.01

    def __init__(
        self,
        *,
        modalities=None,
        latent_dim=32,
        hidden_dims=(),
        head_dims=(64,),
        cnn_channels=(16, 32),
        token_encoder="mean",
        token_embedding_dim=64,
        sequence_encoder="gru",
        dropout=0.3,
        fusion="concat",
        fusion_rank=4,
        conditioning=None,
        alignment=None,
        alignment_weight=0.1,
        pretrain="contrastive",
        pretrain_epochs=0,
        unlabeled_label=None,
        wide_alpha=1e-6,
        wide_lr="auto",
        modality_dropout=0.0,
        optimizer="adamw",
        lr=1e-3,
        lr_schedule="cosine",
        weight_decay=1e-4,
        batch_size=64,
        max_epochs=10,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        tol=1e-4,
        class_weight=None,
        device="cpu",
        amp=None,
        n_jobs=None,
        n_threads="auto",
        random_state=None,
        verbose=0,
        progress=False,
        dp_epsilon=None,
        dp_delta=None,
        dp_max_grad_norm=1.0,
        dp_statistics="data",
    ):
        super().__init__(
            modalities=modalities,
            latent_dim=latent_dim,
            hidden_dims=hidden_dims,
            head_dims=head_dims,
            cnn_channels=cnn_channels,
            token_encoder=token_encoder,
            token_embedding_dim=token_embedding_dim,
            sequence_encoder=sequence_encoder,
            dropout=dropout,
            fusion=fusion,
            fusion_rank=fusion_rank,
            conditioning=conditioning,
            alignment=alignment,
            alignment_weight=alignment_weight,
            pretrain=pretrain,
            pretrain_epochs=pretrain_epochs,
            unlabeled_label=unlabeled_label,
            wide_alpha=wide_alpha,
            wide_lr=wide_lr,
            modality_dropout=modality_dropout,
            optimizer=optimizer,
            lr=lr,
            lr_schedule=lr_schedule,
            weight_decay=weight_decay,
            batch_size=batch_size,
            max_epochs=max_epochs,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            device=device,
            amp=amp,
            n_jobs=n_jobs,
            n_threads=n_threads,
            random_state=random_state,
            verbose=verbose,
            progress=progress,
            dp_epsilon=dp_epsilon,
            dp_delta=dp_delta,
            dp_max_grad_norm=dp_max_grad_norm,
            dp_statistics=dp_statistics,
        )
        self.class_weight = class_weight

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.multi_label = True
        return tags

    def _check_y(self, y):
        if sp.issparse(y):
            y = y.toarray()
        if np.ndim(y) == 2 and np.shape(y)[1] > 1:
            y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
            target = type_of_target(y, input_name="y")
            if target != "multilabel-indicator":
                raise ValueError(
                    f"A 2-D y must be a multilabel indicator matrix (0/1 or "
                    f"True/False, one column per label); got {target!r} "
                    "targets. Pass one column of class labels for a binary or "
                    "multiclass task."
                )
            return y
        y = column_or_1d(y, warn=True)
        check_label_types(y)
        check_classification_targets(y)
        return y

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network on X and class labels y.

        Parameters
        ----------
        X : DataFrame, array-like of shape (n_samples, n_features) or dict
            Numeric features grouped into modalities (see the class notes).
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels (numbers or strings), or a multilabel indicator
            matrix (0/1 or booleans, an array or a DataFrame), one column per
            label, each with both values.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights of the loss.

        Returns
        -------
        self : CrossModalClassifier
        """
        names = label_names(y)
        X, y, sample_weight, labeled = split_unlabeled(self, X, y, sample_weight)
        inputs, y = self._validate_fit(X, y)
        target = type_of_target(y, input_name="y")
        self._multilabel = target == "multilabel-indicator"
        if self._multilabel:
            return self._fit_multilabel(inputs, y, sample_weight, names)
        if target not in ("binary", "multiclass"):
            raise ValueError(
                f"CrossModalClassifier supports binary, multiclass and "
                f"multilabel-indicator y; got {target!r} targets."
            )
        self.classes_, y_encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                "CrossModalClassifier needs at least 2 classes in y; got only "
                f"one class: {plain(self.classes_[0])!r}."
            )
        extra = None
        if isinstance(self.class_weight, list):
            raise ValueError(
                "class_weight as a list (one dict per label) is for a "
                "multilabel y; for binary or multiclass y pass 'balanced' or "
                "one dict {class: weight}."
            )
        if self.class_weight is not None:
            counted = y if labeled is None else y[labeled]
            per_class = compute_class_weight(
                self.class_weight, classes=self.classes_, y=counted
            )
            extra = per_class[y_encoded]
        weights = row_weights(sample_weight, len(y), zero_unlabeled(extra, labeled))
        return self._fit_network(
            inputs,
            y_encoded.astype(np.int64),
            len(self.classes_),
            nn.CrossEntropyLoss,
            weights,
            stratify=True,
            labeled=labeled,
        )

    def _fit_multilabel(self, inputs, Y, sample_weight, names):
        """One sigmoid output per label, binary cross-entropy per label."""
        Y = Y.astype(np.int64)  # 0/1 from booleans or floats; a copy
        check_labels(Y, names)
        self.classes_ = np.arange(Y.shape[1])  # unique_labels(Y), as MLPClassifier
        self.n_outputs_ = Y.shape[1]
        extra = None
        if self.class_weight is not None:
            extra = label_weights(self.class_weight, Y, names)
        weights = row_weights(sample_weight, len(Y), extra)
        # skorch's stratified split needs a 1-D y: a plain random split here
        return self._fit_network(
            inputs,
            Y.astype(np.float32),
            self.n_outputs_,
            nn.BCEWithLogitsLoss,
            weights,
            stratify=False,
        )

    def predict_proba(self, X):
        """Class probabilities, or each label's probability (multilabel).

        Parameters
        ----------
        X : DataFrame, array-like or dict
            Input with the modalities seen in fit.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes) or (n_samples, n_labels)
            Columns in the order of ``classes_``; rows sum to 1. For a
            multilabel y, column ``l`` is the probability that label ``l``
            is 1 (a sigmoid per label: rows need not sum to 1).
        """
        return np.exp(self.predict_log_proba(X))

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        scores = self._forward(X)
        if getattr(self, "_multilabel", False):
            return log_expit(scores)
        return log_softmax(scores, axis=1)

    def predict(self, X):
        """Predicted class labels, or a 0/1 matrix of labels (multilabel).

        Parameters
        ----------
        X : DataFrame, array-like or dict

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Labels taken from ``classes_``; for a multilabel y, an int
            matrix with 1 where the label's probability is above 0.5.
        """
        if getattr(self, "_multilabel", False):
            return (self.predict_proba(X) > 0.5).astype(np.int64)
        scores = self._forward(X)
        return self.classes_[np.argmax(scores, axis=1)]


# The regressor lives in skfusion._regressor; its public name, the one that
# pickle and skops.io record (``trusted=[...]``), is this module's.
CrossModalRegressor.__module__ = __name__
