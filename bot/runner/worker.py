"""Inside the sandbox: the set-up step, the zygote, and the single-use worker each child becomes.

Runs *inside* bubblewrap as a plain script, so it imports nothing from ``bot``. First as the
sandbox's set-up step (``python -I -S worker.py --setup SPEC -- COMMAND...``, see ``setup``),
which execs the zygote (``python -I worker.py CONFIG``, see ``zygote``): it imports TensorFlow,
runs no op, and forks one child per request of the pool (``child``), which makes its own
namespaces and becomes a worker (``serve``). A worker's file descriptors (numbers in the config):

    0        the snippet's source, read to end of file   (then replaced by /dev/null)
    1, 2     diagnostics: start-up noise                  (the snippet's stdout/stderr at run time)
    control  messages to the pool, one JSON object per line: {"event": "ready"}, then the result
    out      the snippet's stdout
    err      the snippet's stderr

Single use: the worker exits after one snippet, so nothing passes from one learner to the next,
and nothing is ever forked after TensorFlow ran an op (FACTS.md: such a child hangs).
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import contextvars
import ctypes
import dataclasses
import errno
import faulthandler
import functools
import json
import linecache
import math
import os
import posix
import resource
import stat
import sys
import time
import traceback
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any, NoReturn

SNIPPET = "<snippet>"
# Messages are reported whole (graph-mode errors put the sentence that matters after a long
# "defined at" stack); frontends shorten them when they render. This only bounds the report.
MAX_MESSAGE_CHARS = 64 * 1024
MAX_MODELS = 20
MAX_LAYERS = 300  # rows of one model's layer table (ResNet152 has 517 layers: the rest is cut)
# Files the snippet leaves in its working directory come back with the result (a plot, a small
# CSV): at most MAX_FILES, each at most MAX_FILE_BYTES and all together MAX_FILES_BYTES (the
# report carries them in base64, within the pool's bound on it); the rest are named in a note.
MAX_FILES = 10
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_FILES_BYTES = 4 * 1024 * 1024
MAX_SCANNED = 1000  # directory entries looked at, however many the snippet made
# Where get_file() points when a weights file is not in the read-only cache; Model.load_weights
# treats this prefix as "keep the random initial weights".
MISSING_WEIGHTS = "/nonexistent/tutor-missing-weights/"
SIGPENDING = 256
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1


# --- limits ------------------------------------------------------------------------------------


def apply_limits(limits: dict[str, int]) -> None:
    """Hard rlimits (soft = hard, so the snippet cannot raise them back).

    RLIMIT_NPROC is set here, inside the sandbox's own user namespace, on purpose: the kernel
    counts it per (user namespace, uid), so each sandbox gets its own budget of threads.
    RLIMIT_SIGPENDING also bounds POSIX timers (each holds a queued signal), which would
    otherwise pin kernel memory by the hundred thousand.
    """
    mib = 1024 * 1024
    pairs = {
        resource.RLIMIT_AS: limits["memory_mb"] * mib,
        resource.RLIMIT_NPROC: limits["max_processes"],
        resource.RLIMIT_NOFILE: limits["open_files"],
        resource.RLIMIT_FSIZE: limits["file_size_mb"] * mib,
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_SIGPENDING: SIGPENDING,
        resource.RLIMIT_MSGQUEUE: 0,
    }
    for which, value in pairs.items():
        resource.setrlimit(which, (value, value))


def limit_cpu(seconds: int) -> None:
    """CPU time from now on (the import already used some). SIGXCPU at the soft limit ends the
    process; the hard limit one second later is the SIGKILL backstop."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = math.ceil(used.ru_utime + used.ru_stime)
    resource.setrlimit(resource.RLIMIT_CPU, (spent + seconds, spent + seconds + 1))


def install_filter(program: bytes, syscall_number: int) -> None:
    """Add a seccomp filter (classic BPF built by the pool) to every thread of this process.

    Called in a fresh fork, before any TensorFlow op, so there is only this thread; TSYNC makes
    that a guarantee rather than an assumption: the kernel applies the filter to all threads at once
    or to none, and then this raises, so the worker never runs a snippet half-filtered.
    Filters only ever add up; nothing can remove this one.
    """
    if not program:
        return

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    prog = SockFprog(len(program) // 8, program)
    done = libc.syscall(
        syscall_number, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, ctypes.byref(prog)
    )
    if done != 0:
        code = ctypes.get_errno() if done < 0 else 0
        detail = os.strerror(code) if code else f"thread {done} could not be synchronised"
        raise OSError(code, f"seccomp filter not installed on every thread: {detail}")


def check_no_capabilities() -> None:
    """setpriv dropped every capability the set-up step had; make sure before going on."""
    with open("/proc/self/status") as f:
        held = [
            line.split(":")[0]
            for line in f
            if line.startswith(("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"))
            and int(line.split()[1], 16)
        ]
    if held:
        raise PermissionError(f"the worker still holds capabilities ({', '.join(held)})")


def peak_memory_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _status_mib(key: str) -> float | None:
    """A memory figure of /proc/self/status (VmRSS, VmHWM) in MiB."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def reset_peak_memory() -> bool:
    """Start the peak resident memory (VmHWM) afresh, so that the peak after the snippet is the
    snippet's own and not the warm-up's (Linux 4.0+: "5" to clear_refs resets it)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


# --- TensorFlow set-up -------------------------------------------------------------------------


_notes: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("notes", default=None)


def note(text: str) -> None:
    notes = _notes.get()
    if notes is not None and text not in notes:
        notes.append(text)


def patch_weights(weights_dir: str) -> None:
    """Serve pretrained weights from the read-only cache, without touching the learner's code.

    ``weights='imagenet'`` downloads at construction, and the sandbox has no network. When a
    file is missing the model keeps its random initial weights and the result says so. Shapes,
    parameter counts and errors do not depend on weight values, and every argument check runs
    as usual (it comes before the download in keras.applications). This is the one documented
    difference from plain TensorFlow; the equality test's plain runs apply it too.
    """
    from keras.src.models.model import Model
    from keras.src.utils import file_utils

    original_get_file = file_utils.get_file
    original_load_weights = Model.load_weights

    def get_file(fname: str | None = None, origin: str | None = None, **kwargs: Any) -> str:
        # keras.applications stores weights under cache_subdir="models"; datasets use
        # "datasets" and are left alone (they fail offline, as they would anywhere offline).
        name = fname or os.path.basename(origin or "")
        if kwargs.get("cache_subdir") == "models" and name.endswith(".h5"):
            cached = os.path.join(weights_dir, "models", name)
            if os.path.isfile(cached):
                return cached
            model = _application_name() or name.split("_weights")[0]
            note(
                f"No pretrained weights file here for {model} ({name}), so it ran with random "
                f"initial weights. Shapes, parameter counts and errors are the same as with "
                f"the real weights; predictions are not meaningful."
            )
            return MISSING_WEIGHTS + name
        return original_get_file(fname, origin, **kwargs)

    def load_weights(self: Any, filepath: Any, *args: Any, **kwargs: Any) -> Any:
        if str(filepath).startswith(MISSING_WEIGHTS):
            return None
        return original_load_weights(self, filepath, *args, **kwargs)

    file_utils.get_file = get_file
    Model.load_weights = load_weights


# Stateful ops that may run directly: a failure of theirs changes no state (it comes from
# checking the handle, dtype or shape before anything is written), so running the op again as
# a function, to get plain TensorFlow's message, repeats nothing. Building a model is mostly
# these (MobileNetV2: 272 VarHandleOp and 272 AssignVariableOp, one signature per variable).
_RETRY_SAFE_STATEFUL = frozenset(
    {
        "VarHandleOp",
        "VarIsInitializedOp",
        "ReadVariableOp",
        "AssignVariableOp",
        "AssignAddVariableOp",
        "AssignSubVariableOp",
        "DestroyResourceOp",
    }
)


def run_eager_ops_directly() -> None:
    """Run eager ops without wrapping each in a one-op function, keeping TensorFlow's messages.

    Plain TensorFlow runs every eager op as a one-op function. Each new op signature then
    instantiates a function and runs graph passes on it (XLA's and oneDNN's), which a warm
    process has cached and a fresh child of the zygote has not: that was half of a cold
    snippet's CPU (docs/runner.md, "Throughput"). Run directly, the op gives the same values
    (the same oneDNN kernels) but its errors lack the ``{{function_node __wrapped__...}}``
    prefix that the learner's own TensorFlow prints. So:

    - a stateless op (and a stateful one of ``_RETRY_SAFE_STATEFUL``) runs directly; if it
      fails, it runs again as a function, and what that raises (or returns) is the answer,
      exactly plain TensorFlow's;
    - any other stateful op (iterators, queues, random generators, scatters: a failure may
      have consumed or written something) runs as a function, as in plain TensorFlow;
    - calls of real functions (``tf.function``, Keras' train step) are untouched: the setting
      only concerns primitive ops.

    The mode is one flag of the eager context, shared by threads: it is on (functions) while
    any thread is inside such a call, so an op never runs directly when it must not, and at
    worst runs as a function when it could have run directly. Called in the worker only, after
    the fork: it creates the eager context, which the zygote must never have.
    """
    import threading

    from tensorflow.python import pywrap_tfe
    from tensorflow.python.eager import context, core
    from tensorflow.python.framework import errors, op_def_registry

    set_as_functions = pywrap_tfe.TFE_ContextSetRunEagerOpAsFunction

    def set_mode(as_functions: bool) -> None:
        # The context of now (a snippet may reset it: a new one runs ops as functions until
        # this is next called), never a handle kept from before, which may have been freed.
        ctx = context.context()
        ctx.ensure_initialized()
        set_as_functions(ctx._handle, as_functions)

    lock = threading.Lock()
    inside = 0  # calls running as functions, in all threads
    kinds: dict[str, str] = {}
    failed = (core._NotOkStatusException, errors.OpError)

    def kind(op: str | bytes) -> str:
        name = op.decode() if isinstance(op, bytes) else op
        found = kinds.get(name)
        if found is None:
            op_def = op_def_registry.get(name)
            if op_def is None:
                found = "function"  # a tf.function's call: its body is a graph anyway
            elif op_def.is_stateful and name not in _RETRY_SAFE_STATEFUL:
                found = "as_function"
            else:
                found = "direct"
            kinds[name] = found
        return found

    def as_function(call: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        nonlocal inside
        with lock:
            inside += 1
            if inside == 1:
                set_mode(True)
        try:
            return call(*args)
        finally:
            with lock:
                inside -= 1
                if inside == 0:
                    set_mode(False)

    def wrap(call: Callable[..., Any], name_at: int) -> Callable[..., Any]:
        def execute(*args: Any) -> Any:
            how = kind(args[name_at])
            if how == "function":
                return call(*args)
            if how == "as_function":
                return as_function(call, args)
            try:
                return call(*args)
            except failed:
                return as_function(call, args)

        return execute

    # TensorFlow's Python looks these up on the module at every call (gen_*_ops, execute.py).
    pywrap_tfe.TFE_Py_FastPathExecute = wrap(pywrap_tfe.TFE_Py_FastPathExecute, 1)
    pywrap_tfe.TFE_Py_Execute = wrap(pywrap_tfe.TFE_Py_Execute, 2)
    pywrap_tfe.TFE_Py_ExecuteCancelable = wrap(pywrap_tfe.TFE_Py_ExecuteCancelable, 2)
    set_mode(False)


def _application_name() -> str | None:
    """The keras.applications constructor being run (e.g. "MobileNetV2"), for the note."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("keras.src.applications.") and frame.f_code.co_name[:1].isupper():
            return frame.f_code.co_name
        frame = frame.f_back
    return None


# --- watching training, without changing what it does ------------------------------------------

# keras.applications backbones whose preprocess_input scales pixels to -1..1 ("tf" mode), by the
# prefix of the name Keras gives them. The others either take 0-255 themselves (EfficientNet,
# ConvNeXt, MobileNetV3 rescale inside the model) or expect other scalings (caffe, torch).
MINUS_ONE_TO_ONE = {
    "mobilenetv2_": "MobileNetV2",
    "mobilenet_": "MobileNet",
    "inception_v3": "InceptionV3",
    "inception_resnet_v2": "InceptionResNetV2",
    "xception": "Xception",
    "resnet50v2": "ResNet50V2",
    "resnet101v2": "ResNet101V2",
    "resnet152v2": "ResNet152V2",
    "nasnet": "NASNet",
}


def watch_training() -> None:
    """Wrap ``fit``/``evaluate``/``predict`` of every Keras model to note facts the explanations
    use, and to spare ``fit`` a redundant trace. Outcomes stay those of plain Keras: the
    equality test (tests/runner/test_runner_equality.py) compares each snippet with a plain run.

    Facts (per model, reported with it): the trainable state the training step was built with
    (so a later ``fit`` that still uses an old one is known), and the range of the array
    inputs (pixels of 0-255 reaching a backbone that expects -1..1).
    """
    from keras.src.backend.tensorflow.trainer import TensorFlowTrainer

    for method in ("fit", "evaluate", "predict"):
        original = getattr(TensorFlowTrainer, method)
        setattr(TensorFlowTrainer, method, _watched(method, original))


@dataclasses.dataclass
class _Watch:
    """What the worker noted about one model. Kept beside the model (a weak dictionary), not on
    it: the learner's model carries no attribute of ours."""

    step: Any = None  # the model's train_function that `state` belongs to
    state: dict[int, bool] | None = None  # trainable per layer when that step was traced
    stale: bool = False  # a fit reused a step traced before trainable changed
    inputs: tuple[float, float] | None = None  # min and max of array inputs


_watches: weakref.WeakKeyDictionary[Any, _Watch] = weakref.WeakKeyDictionary()


def _watch(model: Any) -> _Watch:
    if model not in _watches:
        _watches[model] = _Watch()
    return _watches[model]


def _watched(method: str, original: Callable[..., Any]) -> Callable[..., Any]:
    # The arguments pass through untouched, so a wrong call fails with Keras' own message.
    @functools.wraps(original)
    def watched(self: Any, *args: Any, **kwargs: Any) -> Any:
        fit = method == "fit"
        with contextlib.suppress(Exception):  # watching never changes the outcome
            _note_inputs(self, args[0] if args else kwargs.get("x"))
            if fit:
                _before_fit(self)
        try:
            return original(self, *args, **kwargs)
        finally:
            if fit:
                with contextlib.suppress(Exception):
                    _watch(self).step = self.train_function

    return watched


def _trainable_state(model: Any) -> dict[int, bool]:
    return {id(layer): bool(layer.trainable) for layer in model._flatten_layers()}


def _before_fit(model: Any) -> None:
    """Keras traces a training step at the first fit after compile() (or after
    ``make_train_function(force=True)``), with the variables trainable then; later fits reuse
    it, even if ``trainable`` changed since."""
    watch = _watch(model)
    step = model.train_function
    if step is None or step is not watch.step:  # this fit traces a new step
        watch.state = _trainable_state(model)
        if step is None:
            _build_optimizer_first(model)
    elif watch.state is not None and watch.state != _trainable_state(model):
        watch.stale = True


def _build_optimizer_first(model: Any) -> None:
    """Create the optimizer's variables before the training step is traced, as Keras itself
    does under a distribution strategy (``_symbolic_build``).

    Plain Keras creates them inside the first trace of the step, and TensorFlow then traces
    the whole step a second time, because variables were created in the first (a ResNet50
    step: ~10 s of the ~25 s a one-shot fit takes on 2 cores). Building them first, with the
    same variables, name scope and initial values that ``BaseOptimizer.apply`` would use,
    leaves one trace and the same training (same numbers, same errors). Only where that is
    certain: Keras' own layers, default train_step and optimizer, every layer built (a layer
    built inside the step could add variables), graph mode, no strategy.
    """
    from keras.src import backend
    from keras.src.backend.tensorflow.trainer import TensorFlowTrainer
    from keras.src.optimizers.base_optimizer import BaseOptimizer

    optimizer = getattr(model, "optimizer", None)
    if (
        optimizer is None
        or optimizer.built
        or model.run_eagerly
        or model._distribute_strategy is not None
        or type(model).train_step is not TensorFlowTrainer.train_step
        or type(optimizer).apply is not BaseOptimizer.apply
        or type(optimizer).apply_gradients is not BaseOptimizer.apply_gradients
    ):
        return
    layers = model._flatten_layers()
    if not all(layer.built and type(layer).__module__.startswith("keras.") for layer in layers):
        return
    variables = model.trainable_weights
    if not variables:
        return  # plain Keras never builds the optimizer then
    with backend.name_scope(optimizer.name, caller=optimizer):
        optimizer.build(variables)
    optimizer.built = True


def _note_inputs(model: Any, x: Any) -> None:
    """The range of an array given to fit/evaluate/predict (datasets are not read: iterating
    one could change its shuffling)."""
    import numpy as np

    if not (isinstance(x, np.ndarray) or type(x).__name__ == "EagerTensor"):
        return
    values = np.asarray(x)
    if values.size == 0 or values.dtype.kind not in "fiu":
        return
    low, high = float(values.min()), float(values.max())
    watch = _watch(model)
    if watch.inputs is not None:
        low, high = min(low, watch.inputs[0]), max(high, watch.inputs[1])
    watch.inputs = (low, high)


def _backbone_at_input(model: Any) -> str | None:
    """The -1..1 backbone that receives the model's input unchanged: the model itself, or a
    layer fed directly by one of the model's inputs (no rescaling in between)."""

    def family(layer: Any) -> str | None:
        name = str(getattr(layer, "name", "")).lower()
        return next((f for p, f in MINUS_ONE_TO_ONE.items() if name.startswith(p)), None)

    if family(model):
        return family(model)
    layers = list(getattr(model, "layers", ()))
    if type(model).__name__ == "Sequential":
        return family(layers[0]) if layers else None
    inputs = {id(t) for t in getattr(model, "inputs", None) or ()}
    for layer in layers:
        if family(layer) is None:
            continue
        for node in getattr(layer, "_inbound_nodes", ()):
            if any(id(t) in inputs for t in node.input_tensors):
                return family(layer)
    return None


def _activation_name(layer: Any) -> str | None:
    if type(layer).__name__ == "Softmax":
        return "softmax"
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None) if activation is not None else None


def _loss_name(loss: Any) -> str | None:
    if loss is None or isinstance(loss, str):
        return loss
    return getattr(loss, "name", None) or getattr(loss, "__name__", None)


def model_facts(model: Any) -> dict[str, Any]:
    """What explanation rules may test about a model left in the namespace (docs/runner.md).
    Facts that are unknown are left out."""
    facts: dict[str, Any] = {}
    layers = list(getattr(model, "layers", ()))
    if layers:
        facts["output_activation"] = _activation_name(layers[-1])
    with contextlib.suppress(Exception):
        units = model.output_shape[-1]
        if isinstance(units, int):
            facts["output_units"] = units
    watch = _watches.get(model) or _Watch()
    if getattr(model, "compiled", False):
        facts["loss"] = _loss_name(getattr(model, "loss", None))
        compiled = getattr(model, "_compiled_trainable_state", None)  # Keras': layer -> bool
        if isinstance(compiled, dict):
            now = {layer: bool(layer.trainable) for layer in model._flatten_layers()}
            facts["trainable_changed_since_compile"] = now != compiled
        if watch.state is not None:
            facts["trainable_changed_since_fit"] = watch.state != _trainable_state(model)
        facts["fit_used_old_trainable"] = watch.stale
    if watch.inputs is not None:
        facts["input_min"], facts["input_max"] = (round(v, 4) for v in watch.inputs)
    backbone = _backbone_at_input(model)
    if backbone is not None:
        facts["backbone"] = backbone
        facts["backbone_input_range"] = "-1..1"
    return {k: v for k, v in facts.items() if v is not None}


def warm_up(models: list[str]) -> None:
    """Run TensorFlow's one-time set-up (op registration, thread pools, kernel caches) and build
    the common backbones once, so the learner's first build is as fast as a repeated one."""
    import keras
    import numpy as np

    tiny = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3), keras.layers.Dense(2)]
    )
    tiny.predict(np.zeros((1, 8, 8, 3)), verbose=0)
    for name in models:
        constructor = getattr(keras.applications, name, None)
        if constructor is not None:
            constructor(input_shape=(96, 96, 3), include_top=False, weights=None)
    _reset_keras_names()


def _reset_keras_names() -> None:
    """Forget the warm-up's models, so the learner's first Dense is named "dense" as in a fresh
    process; but keep TensorFlow's eager kernel cache, which clear_session() would also drop:
    rebuilding it made the learner's first build ~60% slower (the whole point of warming up)."""
    import keras
    from tensorflow.python.eager import context

    ctx = context.context()
    clear_kernel_cache = ctx.clear_kernel_cache
    ctx.clear_kernel_cache = lambda: None
    try:
        keras.backend.clear_session(free_memory=True)
    finally:
        ctx.clear_kernel_cache = clear_kernel_cache


# --- running the snippet -----------------------------------------------------------------------


def _shape(model: Any, attribute: str) -> str | None:
    try:
        return str(getattr(model, attribute))
    except Exception:  # an unbuilt model has no shape yet
        return None


def _params(model: Any, trainable: bool = False) -> int | None:
    try:
        if trainable:
            return int(sum(math.prod(w.shape) for w in model.trainable_weights))
        return int(model.count_params())
    except Exception:
        return None


def describe_models(namespace: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Keras model bound to a top-level name, once, in the order the names were bound."""
    model_class = getattr(sys.modules.get("keras"), "Model", None)
    if model_class is None:
        return []
    seen: set[int] = set()
    found = []
    for name, value in list(namespace.items()):
        if name.startswith("__") or not isinstance(value, model_class) or id(value) in seen:
            continue
        seen.add(id(value))
        found.append(
            {
                "name": name,
                "input_shape": _shape(value, "input_shape"),
                "output_shape": _shape(value, "output_shape"),
                "params": _params(value),
                "trainable_params": _params(value, trainable=True),
                "facts": _facts(value),
                "layers": describe_layers(value),
            }
        )
        if len(found) == MAX_MODELS:
            break
    return found


def describe_layers(model: Any) -> list[dict[str, Any]]:
    """The model's own layers (a nested backbone is one row): name, class, output shape as
    Python prints it, parameters and whether it trains. Unknown values are None."""
    rows = []
    try:
        layers = list(model.layers)[:MAX_LAYERS]
    except Exception:  # an odd subclass: no table rather than no report
        return []
    for layer in layers:
        try:
            shape: str | None = str(tuple(layer.output.shape))
        except Exception:  # not called yet, or called on several inputs
            shape = None
        try:
            params: int | None = int(layer.count_params())
        except Exception:  # not built yet
            params = None
        rows.append(
            {
                "name": str(getattr(layer, "name", "?")),
                "type": type(layer).__name__,
                "output_shape": shape,
                "params": params,
                "trainable": bool(getattr(layer, "trainable", False)),
            }
        )
    return rows


def _facts(model: Any) -> dict[str, Any]:
    try:
        return model_facts(model)
    except Exception:  # a half-built or odd model: no facts rather than no report
        return {}


def snippet_line(exc: BaseException) -> int | None:
    """The line of the snippet where ``exc`` came from: the deepest frame in the snippet."""
    if isinstance(exc, SyntaxError) and exc.filename == SNIPPET:
        return exc.lineno
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == SNIPPET:
            line = lineno
    return line


def print_traceback(exc: BaseException, stream: Any) -> None:
    """A traceback as Python prints it, keeping only the snippet's own frames."""
    tb = traceback.TracebackException.from_exception(exc, capture_locals=False)
    tb.stack = traceback.StackSummary.from_list([f for f in tb.stack if f.filename == SNIPPET])
    tb.__cause__ = tb.__context__ = None
    stream.write("".join(tb.format()))


def execute(code: str) -> dict[str, Any]:
    """Run ``code`` as ``__main__`` and describe what it did (never raises)."""
    linecache.cache[SNIPPET] = (len(code), None, code.splitlines(True), SNIPPET)
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    notes: list[str] = []
    token = _notes.set(notes)
    me = os.getpid()
    exception: BaseException | None = None
    home = os.getcwd()  # the child's own fresh home: what is in it afterwards is the snippet's
    before = list_files(home)
    baseline = _status_mib("VmRSS")
    fresh_peak = reset_peak_memory()
    started = time.perf_counter()
    try:
        exec(compile(code, SNIPPET, "exec"), namespace)
    except SystemExit as exc:
        if exc.code not in (None, 0):
            exception = exc
    except BaseException as exc:  # everything the learner's code raises is a result
        exception = exc
    finally:
        _notes.reset(token)
    if os.getpid() != me:
        # The sandbox refuses fork (seccomp); should a child exist anyway (seccomp off), it has
        # finished the snippet too and must not report.
        os._exit(0)
    duration = time.perf_counter() - started
    info = None
    if exception is not None:
        print_traceback(exception, sys.stderr)
        info = {
            "type": type(exception).__name__,
            "module": type(exception).__module__,
            "message": str(exception)[:MAX_MESSAGE_CHARS],
            "line": snippet_line(exception),
            "errno": getattr(exception, "errno", None),
        }
    peak = (_status_mib("VmHWM") if fresh_peak else None) or peak_memory_mb()
    models = describe_models(namespace)
    files, left_out = collect_files(before, home)
    return {
        "event": "result",
        "status": "ok" if exception is None else "error",
        "exception": info,
        "models": models,
        "notes": notes + left_out,
        "duration_s": round(duration, 3),
        "peak_memory_mb": peak,
        "baseline_memory_mb": baseline,
        "files": files,
    }


def list_files(root: str = ".") -> dict[str, tuple[int, int]]:
    """Regular files under ``root`` (not hidden, no symlinks followed): path -> size, mtime."""
    found: dict[str, tuple[int, int]] = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for name in sorted(names):
            if name.startswith("."):
                continue
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                found[os.path.relpath(path, root)] = (info.st_size, info.st_mtime_ns)
            if len(found) >= MAX_SCANNED:
                return found
    return found


def collect_files(
    before: dict[str, tuple[int, int]], root: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """The files the snippet wrote in its working directory ``root`` (new or changed since
    ``before``; wherever the snippet moved since), within the limits, and notes naming those
    left out and why."""
    files: list[dict[str, Any]] = []
    too_big: list[str] = []
    too_many: list[str] = []
    total = 0
    for name, signature in sorted(list_files(root).items()):
        if before.get(name) == signature:
            continue
        size = signature[0]
        if size > MAX_FILE_BYTES or total + size > MAX_FILES_BYTES:
            too_big.append(f"{name} ({size / 1024 / 1024:.1f} MiB)")
            continue
        if len(files) == MAX_FILES:
            too_many.append(name)
            continue
        try:
            fd = os.open(os.path.join(root, name), os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
        except OSError:
            continue
        if len(data) > MAX_FILE_BYTES or total + len(data) > MAX_FILES_BYTES:
            too_big.append(f"{name} ({len(data) / 1024 / 1024:.1f} MiB)")
            continue
        total += len(data)
        files.append({"name": name, "size": len(data), "data": base64.b64encode(data).decode()})
    notes = []
    if too_big:
        notes.append(
            f"Not returned, too large (at most {MAX_FILE_BYTES // 2**20} MiB a file, "
            f"{MAX_FILES_BYTES // 2**20} MiB in all): {', '.join(too_big[:5])}"
            + (f" and {len(too_big) - 5} more" if len(too_big) > 5 else "")
            + "."
        )
    if too_many:
        notes.append(
            f"Only {MAX_FILES} files come back; not returned: {', '.join(too_many[:5])}"
            + (f" and {len(too_many) - 5} more" if len(too_many) > 5 else "")
            + "."
        )
    return files, notes



# --- set-up step --------------------------------------------------------------------------------

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MNT_DETACH = 2


def setup(spec: dict[str, Any], command: list[str]) -> None:
    """Build the sandbox's /opt from the host trees bwrap bound under /.stage, then exec.

    Runs as the sandbox's first process with CAP_SYS_ADMIN in its own namespaces only, before
    anything of the learner's exists. Each operation of ``spec["ops"]``:

    - ``overlay TARGET LOWERS``: a read-only overlay of the staged directories. A bind mount
      shows its source's host path in /proc/self/mountinfo; an overlay shows only its options,
      which name the staged paths inside the sandbox.
    - ``hide TARGET``: an empty read-only tmpfs over a directory the sandbox has no use for.
    - ``tmpfs TARGET SIZE INODES``: remount a writable tmpfs with an inode cap as well.
    - ``detach TARGET``: unmount a staging bind (the overlays keep their own references).

    Any failure ends the sandbox before the worker starts (the pool reports this message).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]

    def check(rc: int, what: str) -> None:
        if rc != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"sandbox set-up: {what}: {os.strerror(code)}")

    read_only = MS_RDONLY | MS_NOSUID | MS_NODEV
    for op, target, *args in spec["ops"]:
        path = target.encode()
        if op == "overlay":
            options = ("lowerdir=" + ":".join(args[0])).encode()
            rc = libc.mount(b"overlay", path, b"overlay", read_only, options)
            check(rc, f"overlay on {target} (needs Linux 5.11 or later)")
        elif op == "hide":
            options = b"size=4k,nr_inodes=2,mode=0755"
            rc = libc.mount(b"tmpfs", path, b"tmpfs", read_only | MS_NOEXEC, options)
            check(rc, f"hiding {target}")
        elif op == "tmpfs":
            options = f"size={args[0]},nr_inodes={args[1]}".encode()
            check(libc.mount(None, path, None, MS_REMOUNT | MS_NOSUID | MS_NODEV, options),
                  f"capping the inodes of {target}")  # fmt: skip
        elif op == "detach":
            check(libc.umount2(path, MNT_DETACH), f"detaching {target}")
        elif op == "uncover":
            # bwrap covers some directories of /proc read-only; a covered /proc is not "fully
            # visible", and the kernel then refuses the fresh /proc of a child's pid namespace.
            # Not a mount point (EINVAL), or not there (ENOENT): nothing to do.
            rc = libc.umount2(path, MNT_DETACH)
            if rc != 0 and ctypes.get_errno() not in (errno.EINVAL, errno.ENOENT):
                check(rc, f"uncovering {target}")
        else:
            raise ValueError(f"sandbox set-up: unknown operation {op!r}")
    os.execve(command[0], command, {**os.environ, **spec["env"]})


# --- zygote --------------------------------------------------------------------------------------

_SYNC_OUT, _SYNC_IN = 6, 7  # the child and the zygote, while the zygote writes its id maps
_CHILD_FDS = 5  # a request's pipes: code, control, out, err, diag
CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = (
    0x08000000, 0x10000000, 0x20000000, 0x40000000
)  # fmt: skip
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
MS_REC, MS_PRIVATE = 0x4000, 1 << 18
SYNC_TIMEOUT_S = 10.0
_placed = False  # in a child: the pool's pipes are at the config's numbers


def _libc() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    return libc


def _check(rc: int, what: str) -> None:
    if rc != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def no_op_ran() -> bool:
    """True while TensorFlow has run no op in this process (its eager context is not set up):
    only then may it fork (FACTS.md: a child forked after an op hangs in its first one)."""
    from tensorflow.python.eager import context

    return not context.context()._initialized


def zygote(config: dict[str, Any]) -> int:
    """The zygote: import TensorFlow once, run no op, then fork one child per request of the
    pool; each child builds its own sandbox (``child``) before it becomes a worker (``serve``).

    It runs no learner code and never runs a TensorFlow op, so every child starts from the
    same clean state. Requests come on a socket the pool created (with the child's pipes as
    SCM_RIGHTS); events go back on ``report``: ready, forked (the child's pid), exited (its exit
    status as bwrap would report it, and the peak memory of its tree).
    """
    import select
    import signal
    import socket

    report = os.fdopen(config["report"], "w", encoding="utf-8")
    try:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        started = time.perf_counter()
        import keras  # noqa: F401  (imports TensorFlow)

        # Each child reseeds numpy's generator (reseed), which imports numpy.random: ~12 ms of
        # CPU per snippet when every child does it, once here (a module import, no op).
        import numpy.random  # noqa: F401

        patch_weights(config["weights_dir"])
        watch_training()
        if not no_op_ran():
            raise RuntimeError("TensorFlow ran an op in the zygote: its children would hang")
        send(report, {"event": "ready", "startup_s": time.perf_counter() - started})
    except BaseException as exc:
        send(report, {"event": "failed", "error": "".join(traceback.format_exception(exc))})
        return 1
    requests = socket.socket(fileno=config["requests"])
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: dict[int, int] = {}  # pid -> request id
    while True:
        ready, _, _ = select.select([requests.fileno(), wake_r], [], [])
        if wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                while os.read(wake_r, 4096):
                    pass
            _reap(children, report)
        if requests.fileno() in ready:
            message, fds, _, _ = socket.recv_fds(requests, 65536, _CHILD_FDS)
            if not message:  # the pool is gone: so are we (the children follow, PDEATHSIG)
                return 0
            request = json.loads(message)
            if not no_op_ran():  # never fork after an op, whatever happened
                raise RuntimeError("TensorFlow ran an op in the zygote: refusing to fork")
            pid = _fork_child(config, request, fds)
            for fd in fds:
                os.close(fd)
            if pid is not None:
                children[pid] = request["id"]
            send(report, {"event": "forked", "id": request["id"], "pid": pid})


def _exit_code(status: int) -> int:
    """As bwrap reports it (and a shell): the exit code, or 128 + the signal."""
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def _reap(children: dict[int, int], report: Any) -> None:
    while True:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        ident = children.pop(pid, None)
        if ident is not None:
            code, peak = _exit_code(status), round(usage.ru_maxrss / 1024, 1)
            send(report, {"event": "exited", "id": ident, "code": code, "peak_mb": peak})


def _fork_child(config: dict[str, Any], request: dict[str, Any], fds: list[int]) -> int | None:
    """Fork a child, and write the id maps of the user namespace it makes (which takes
    CAP_SETUID in this, the parent, namespace). None if the child could not be made."""
    import select

    to_zygote_r, to_zygote_w = os.pipe()
    to_child_r, to_child_w = os.pipe()
    try:
        pid = os.fork()
    except OSError as exc:  # out of processes or memory for a moment: this worker fails
        sys.stderr.write(f"forking a child: {exc}\n")
        for fd in (to_zygote_r, to_zygote_w, to_child_r, to_child_w):
            os.close(fd)
        return None
    if pid == 0:
        try:
            child(config, request, fds, to_zygote_w, to_child_r)
        except BaseException as exc:  # said on the worker's channel once it is in place
            with contextlib.suppress(Exception):
                os.write(config["fds"]["control"] if _placed else 2, _failed(exc))
        finally:
            os._exit(1)
    os.close(to_zygote_w)
    os.close(to_child_r)
    try:
        # The child says when it is in its new user namespace; a child that died says nothing.
        ready, _, _ = select.select([to_zygote_r], [], [], SYNC_TIMEOUT_S)
        if ready and os.read(to_zygote_r, 1) == b"u":
            for name in ("gid_map", "uid_map"):
                with open(f"/proc/{pid}/{name}", "w") as f:
                    f.write(config[name])
            os.write(to_child_w, b"m")
    except OSError as exc:  # the child sees its pipe close and gives up, and says so
        sys.stderr.write(f"mapping a child's ids: {exc}\n")
    finally:
        os.close(to_zygote_r)
        os.close(to_child_w)
    return pid


def _failed(exc: BaseException) -> bytes:
    message = {"event": "failed", "error": "".join(traceback.format_exception(exc))}
    return (json.dumps(message) + "\n").encode()


def _place_fds(numbers: dict[str, int], fds: list[int], sync_out: int, sync_in: int) -> None:
    """The pool's pipes at the config's numbers (code on 0, diagnostics on 1 and 2), and
    nothing else of the zygote's: no socket, no other child's pipe."""
    import fcntl

    code, control, out, err, diag = fds
    wanted = {0: code, 1: diag, 2: diag, numbers["control"]: control, numbers["out"]: out,
              numbers["err"]: err, _SYNC_OUT: sync_out, _SYNC_IN: sync_in}  # fmt: skip
    high = {fd: fcntl.fcntl(fd, fcntl.F_DUPFD, 64) for fd in set(wanted.values())}
    for target, fd in wanted.items():
        os.dup2(high[fd], target)
    os.closerange(max(wanted) + 1, 1 << 20)
    global _placed
    _placed = True


def child(
    config: dict[str, Any], request: dict[str, Any], fds: list[int], sync_out: int, sync_in: int
) -> None:
    """A child of the zygote becomes a sandbox of its own, before any learner code exists:
    own user namespace (its own budget of threads), mount namespace with a fresh /tmp and home,
    pid namespace (with a fresh /proc), ipc, uts, network and cgroup namespaces. Then it forks
    the namespace's init (which forks the worker, and waits for it)."""
    import signal

    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    libc = _libc()
    zygote_pid = os.getppid()
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "PR_SET_PDEATHSIG")
    if os.getppid() != zygote_pid:
        os._exit(1)
    _place_fds(config["fds"], fds, sync_out, sync_in)
    _check(libc.unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)")
    os.write(_SYNC_OUT, b"u")
    if os.read(_SYNC_IN, 1) != b"m":
        raise OSError("the zygote did not map this sandbox's user ids")
    os.close(_SYNC_OUT)
    os.close(_SYNC_IN)
    if config["init_ids"] is not None:
        # Root of this namespace (the init, not the worker): the worker, another uid, can then
        # neither signal nor read it, as under bwrap.
        uid, gid = config["init_ids"]
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    namespaces = (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET
                  | CLONE_NEWCGROUP)  # fmt: skip
    _check(libc.unshare(namespaces), "unshare(namespaces)")
    # Nothing mounted here reaches the zygote or another child.
    _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "making / private")
    size, inodes = config["tmpfs"]
    shm_size, shm_inodes = config["dev_shm"]
    # Fresh ones for each child: the generation's /dev/shm (POSIX semaphores) would otherwise be
    # shared by every snippet forked from this zygote.
    mounts = [("/tmp", size, inodes), (config["home"], size, inodes)]
    mounts.append(("/dev/shm", shm_size, shm_inodes))
    for path, size, inodes in mounts:
        options = f"size={size},nr_inodes={inodes},mode=1777".encode()
        flags = MS_NOSUID | MS_NODEV
        _check(libc.mount(b"tmpfs", path.encode(), b"tmpfs", flags, options), f"tmpfs on {path}")
    os.chdir(config["home"])  # the new home, not the zygote's under it
    alive_r, alive_w = os.pipe()
    init = os.fork()
    if init:
        # Outside the new pid namespace: wait for its init and pass its exit status on.
        for fd in (0, 1, 2, *config["fds"].values(), alive_r):
            os.close(fd)
        _, status = os.waitpid(init, 0)
        os._exit(_exit_code(status) & 0xFF)
    # pid 1 of the new namespace: dies with the child above (the pool kills that one).
    os.close(alive_w)
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "PR_SET_PDEATHSIG")
    import select

    if select.select([alive_r], [], [], 0)[0]:  # its parent already gone
        os._exit(1)
    _check(libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None),
           "a fresh /proc")  # fmt: skip
    # The worker cannot read this process's memory or files in /proc (another uid, and no
    # capability), nor signal it (pid 1 takes no signal it does not handle, and it handles none).
    _check(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "PR_SET_DUMPABLE")
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    worker = os.fork()
    if worker:
        for fd in (0, 1, 2, *config["fds"].values(), alive_r):
            os.close(fd)
        while True:  # reap whatever ends up here; leave with the worker's status
            pid, status = os.waitpid(-1, 0)
            if pid == worker:
                os._exit(_exit_code(status) & 0xFF)
    os.close(alive_r)
    serve(config, request)


def become_unprivileged(uid: int, gid: int) -> None:
    """Drop to the sandbox's uid with no capability, as setpriv did: empty bounding and ambient
    sets, no supplementary groups, no new privileges. Dumpable again afterwards, as a process
    that exec'd is (its own /proc files are its own)."""
    libc = _libc()
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    for cap in range(last + 1):
        _check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "dropping the bounding set")
    _check(libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clearing ambient caps")
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable x 2: all empty
    header = Header(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    _check(libc.capset(ctypes.byref(header), data), "capset")
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
    _check(libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "PR_SET_DUMPABLE")


def reseed() -> None:
    """A fork shares its parent's random state: draw fresh seeds, as a new process would (the
    random module already does so after a fork; numpy does not)."""
    import random

    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()


# --- protocol ----------------------------------------------------------------------------------


def send(control: Any, message: dict[str, Any]) -> None:
    control.write(json.dumps(message) + "\n")
    control.flush()


def report_exits(control: Any) -> None:
    """Make ``os._exit(n)`` say so on the control channel first. A worker that ends without a
    result leaves the pool only bwrap's exit status, which folds exit codes and signals into
    one number (128 + signal): ``os._exit(137)`` would read as SIGKILL. Forked children, which
    inherit the patch, stay silent."""
    real_exit, me = os._exit, os.getpid()

    def _exit(status: int) -> NoReturn:
        if os.getpid() == me:
            with contextlib.suppress(Exception):
                send(control, {"event": "exit", "code": int(status)})
        real_exit(status)

    os._exit = posix._exit = _exit


def read_code(limit: int) -> str:
    chunks, size = [], 0
    while chunk := os.read(0, 65536):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(chunks)[:limit].decode("utf-8", errors="replace")


def main(argv: list[str]) -> int:
    if argv[1] == "--setup":
        try:
            setup(json.loads(argv[2]), argv[argv.index("--") + 1 :])
        except Exception as exc:  # the pool shows this when the zygote never gets ready
            sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        return 1
    return zygote(json.loads(argv[1]))


def serve(config: dict[str, Any], request: dict[str, Any]) -> NoReturn:
    """The worker, in a child of the zygote that is already inside its own namespaces: lock it
    down, warm up, say ready, run one snippet, report, exit. Never returns."""
    fds = config["fds"]
    control = os.fdopen(fds["control"], "w", encoding="utf-8")
    try:
        become_unprivileged(config["uid"], config["gid"])
        # While this is the only thread (a fresh fork), before any TensorFlow op: every thread
        # TensorFlow starts later inherits it. TSYNC makes "every thread" a guarantee.
        install_filter(base64.b64decode(config["worker_filter"]), config["seccomp_syscall"])
        check_no_capabilities()
        apply_limits(config["limits"])
        reseed()
        if config.get("direct_ops", True):
            run_eager_ops_directly()
        started = time.perf_counter()
        if request.get("warmup") is not None:
            # Nobody waits for this worker: warm up at a lower priority than running snippets
            # (the pool puts it back to normal when a snippet comes, Worker.prioritise).
            os.setpriority(os.PRIO_PROCESS, 0, max(os.getpriority(os.PRIO_PROCESS, 0),
                                                   config["spawn_niceness"]))  # fmt: skip
            warm_up(request["warmup"])
        send(
            control,
            {"event": "ready", "pid": os.getpid(), "startup_s": time.perf_counter() - started},
        )
    except BaseException as exc:
        send(control, {"event": "failed", "error": "".join(traceback.format_exception(exc))})
        os._exit(1)

    code = read_code(config["code_limit_bytes"])
    # A session of its own for the snippet, as each bwrap sandbox had (--new-session) before
    # the zygote: Linux's scheduler shares the CPU between sessions (autogroups) first, so
    # children left in the zygote's session would share one slice of a busy machine between
    # all the snippets running at once (measured: 0.24 snippets/s against 0.66 with this, the
    # same CPU per snippet). Here, not before the warm-up: a warming worker stays in the
    # zygote's session, at its lower priority, behind every running snippet.
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    sys.stdout.flush()
    sys.stderr.flush()
    # From here on fd 1 and 2 are the learner's: Python's sys.stdout/stderr write to them.
    os.dup2(fds["out"], 1)
    os.dup2(fds["err"], 2)
    os.close(fds["out"])
    os.close(fds["err"])
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    faulthandler.enable(file=sys.stderr)
    limit_cpu(config["limits"]["cpu_time_s"])

    report_exits(control)
    result = execute(code)

    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(Exception):  # the snippet may have replaced or closed them
            stream.flush()  # type: ignore[union-attr]
    # Close the learner's output before reporting, so the pool has all of it once the result
    # arrives; then leave at once (TensorFlow's teardown is slow and could print).
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    # Unserialisable or a closed pipe: without a result the pool reports a crash.
    with contextlib.suppress(OSError, ValueError, TypeError):
        send(control, result)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
