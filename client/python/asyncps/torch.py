"""PyTorch on the asyncps parameter server.

    import torch, asyncps.torch
    model = asyncps.torch.seed_cnn()                 # or any torch.nn.Module
    opt = asyncps.torch.DistributedOptimizer(torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7),
                                             model, servers=endpoints,
                                             worker_id=i, algorithm="adag", window=5)
    opt.init_or_pull()                               # the first worker's weights win; start from the PS's
    for x, y in loader:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()                                   # your optimizer + the worker side of the rule
    opt.finish()                                     # the final commit

In a script started by asyncps.run (python3 -m asyncps.run --workers 3 train.py),
servers, worker_id and the rule come from the environment it sets:
DistributedOptimizer(opt, model), partition(dataset) for
this worker's share of the data, and pull_model(model) for the PS's weights.

Tensor names on the PS are the PyTorch names with '.' written as '/' (Keras'
separator): seed_cnn()'s conv2d_1.kernel is conv2d_1/kernel, as in the C++
worker, so PyTorch and C++ workers can share a run and its .npz files.

A model on a GPU works unchanged (move it there before creating its
optimizer): the client exchanges through a pinned host copy of the flat
buffer, copied only around the rule's exchanges (DistributedOptimizer).

torch is imported by this module only; `import asyncps` never needs it.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

from . import _asyncps


def tensor_name(name):
    """The PS's name of a PyTorch parameter: '.' becomes '/'."""
    return name.replace(".", "/")


def _named(named_parameters):
    """named_parameters as a list of (name, tensor) pairs. Raises
    asyncps.InvalidArgument saying what is expected when they are not such
    pairs (model.parameters() gives tensors without names)."""
    expected = "named_parameters must be (name, tensor) pairs, as model.named_parameters() gives them"
    try:
        named = list(named_parameters)
    except TypeError:
        raise _asyncps.InvalidArgument(f"{expected}, not a {type(named_parameters).__name__}") from None
    for i, entry in enumerate(named):
        if not (isinstance(entry, (tuple, list)) and len(entry) == 2 and isinstance(entry[0], str)):
            hint = (": pass model.named_parameters(), not model.parameters()" if isinstance(entry, torch.Tensor)
                    else "")
            raise _asyncps.InvalidArgument(f"{expected}; entry {i} is a {type(entry).__name__}{hint}")
    return named


def exchanged_tensors(model, buffers="travel"):
    """The (name, tensor) pairs the PS holds for `model`, in layout order: a
    torch.nn.Module's named parameters, then, with buffers="travel", its
    floating-point buffers (BatchNorm's running mean and variance: they follow
    the rule like parameters, as Keras' non-trainable weights did in
    Dist-Keras; integer buffers such as num_batches_tracked stay local);
    buffers="local" keeps every buffer local. Anything else that is not a
    Module: (name, tensor) pairs taken as they are (no buffers)."""
    if buffers not in ("travel", "local"):
        raise _asyncps.InvalidArgument(f"buffers must be 'travel' or 'local', not {buffers!r}")
    if not isinstance(model, torch.nn.Module):
        return _named(model)
    named = list(model.named_parameters())
    if buffers == "travel":
        named += [(n, b) for n, b in model.named_buffers() if b.is_floating_point()]
    return named


# --- one flat buffer under every parameter ---------------------------------------

def _as_flat_view(params):
    """The flat float32 tensor the parameters already are consecutive slices
    of (in order, contiguous, one storage), or None."""
    first = params[0].data
    storage, base = first.storage(), first.storage_offset()
    offset = base
    for p in params:
        d = p.data
        if (d.dtype != torch.float32 or not d.is_contiguous() or d.storage().data_ptr() != storage.data_ptr()
                or d.storage_offset() != offset):
            return None
        offset += d.numel()
    return torch.empty(0, dtype=torch.float32, device=first.device).set_(storage, base, (offset - base,))


def flatten_parameters(named_parameters):
    """Makes every parameter's .data a slice of one flat float32 tensor on the
    parameters' device (the CPU or a GPU), in the given order (keeping the
    values), and returns (layout, flat). Reuses the buffer if the parameters
    already are consecutive slices of one. Raises asyncps.InvalidArgument for
    a parameter that is not float32, parameters on different devices, a name
    given twice, or entries that are not (name, tensor) pairs."""
    named = _named(named_parameters)
    if not named:
        raise _asyncps.InvalidArgument("named_parameters is empty: pass model.named_parameters()")
    seen = {}
    for name, p in named:
        if not isinstance(p, torch.Tensor):
            raise _asyncps.InvalidArgument(f"parameter '{name}' is a {type(p).__name__}, not a torch.Tensor")
        if p.dtype != torch.float32:
            raise _asyncps.InvalidArgument(f"parameter '{name}' is {p.dtype}; asyncps exchanges float32 "
                                           "(model.float())")
        if p.device != named[0][1].device:
            raise _asyncps.InvalidArgument(f"parameter '{name}' is on {p.device} but '{named[0][0]}' is on "
                                           f"{named[0][1].device}; move the whole model to one device "
                                           "(model.to(device)) before wrapping its optimizer")
        if tensor_name(name) in seen:
            raise _asyncps.InvalidArgument(f"parameter '{name}' is given twice (or clashes with "
                                           f"'{seen[tensor_name(name)]}' once '.' is written '/')")
        seen[tensor_name(name)] = name
    layout = _asyncps.Layout([(tensor_name(n), tuple(p.shape)) for n, p in named])
    params = [p for _, p in named]
    flat = _as_flat_view(params)
    if flat is None:
        flat = torch.empty(layout.total_size, dtype=torch.float32, device=params[0].device)
        for i, p in enumerate(params):
            off, n = layout.offset(i), p.numel()
            flat[off:off + n].copy_(p.data.reshape(-1))
            p.data = flat[off:off + n].view(p.shape)
    return layout, flat


# --- the optimizer --------------------------------------------------------------

# What asyncps.run (the launcher) sets for each copy of a training script; the
# optimizer, partition() and pull_model() read them when not given.
ENV_SERVERS = "ASYNCPS_SERVERS"          # comma-separated endpoints, in shard order
ENV_WORKER_ID = "ASYNCPS_WORKER_ID"      # this worker's id, distinct in the run
ENV_NUM_WORKERS = "ASYNCPS_NUM_WORKERS"  # how many workers the run has
ENV_ALGORITHM = "ASYNCPS_ALGORITHM"      # the run's update rule
ENV_RULE = {"window": ("ASYNCPS_WINDOW", int), "rho": ("ASYNCPS_RHO", float), "eta": ("ASYNCPS_ETA", float),
            "momentum": ("ASYNCPS_MOMENTUM", float)}
ENV_OVERLAP = "ASYNCPS_OVERLAP"  # 1/true/yes/on or 0/false/no/off, as asyncps-worker reads it


def _flag(text):
    """A boolean environment value, as asyncps-worker reads $ASYNCPS_OVERLAP; raises ValueError."""
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _from_env(name, convert, what):
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    try:
        return convert(value)
    except ValueError:
        raise _asyncps.InvalidArgument(f"${name}={value!r} is not a valid {what}") from None


def _servers(servers):
    if servers is not None:
        return servers
    env = os.environ.get(ENV_SERVERS, "")
    if not env:
        raise _asyncps.InvalidArgument(f"no servers: pass servers=[...] or run the script with asyncps.run "
                                       f"(which sets ${ENV_SERVERS})")
    return env.split(",")


class _DistributedOptimizer(torch.optim.Optimizer):
    """The methods DistributedOptimizer() puts on a subclass of the wrapped
    optimizer's own class (as Horovod does): an instance is that optimizer, so
    LR schedulers, state_dict()/load_state_dict(), zero_grad(set_to_none=...)
    and anything that checks isinstance(opt, torch.optim.Optimizer) work."""

    def _asyncps_setup(self, named_parameters, servers, worker_id, algorithm, rule, client_options, stage):
        self.layout, self.flat = flatten_parameters(named_parameters)
        # Staging (a model on a GPU): the client reads and writes `host`, a
        # flat copy in (pinned) host memory, and the weights cross between it
        # and `flat` only around the driver calls that touch them.
        self.staged = self.flat.device.type != "cpu" if stage is None else bool(stage)
        self._cuda = self.flat.device.type == "cuda"
        if self.staged:
            self.host = torch.empty(self.layout.total_size, dtype=torch.float32,
                                    pin_memory=torch.cuda.is_available())
        else:
            self.host = self.flat
        self._w = self.host.numpy()  # the same memory, for the client
        self.copies_to_host = self.copies_to_device = 0  # staging copies of the whole flat buffer
        self._h2d_done = None  # a CUDA event: the last host -> device copy has read `host`
        # The window travels to the shards' status page.
        client_options.setdefault("window", _asyncps.rule_config(algorithm, **rule)["window"])
        self.client = _asyncps.Client(servers, self.layout, worker_id=worker_id, algorithm=algorithm,
                                      **client_options)
        self.driver = _asyncps.RuleDriver(self.client, **rule)
        self.config = self.driver.config
        self._before = self.config["exchange_point"] == "before_batch"
        self._eamsgd = self.config["algorithm"] == "eamsgd"
        self._unsent = 0  # without overlap: batches trained since the last exchange, as the driver counts them
        self._asyncps_state = "created"

    @property
    def commits(self):
        """Commits sent so far."""
        return self.driver.commits

    @property
    def batches(self):
        """Steps (batches trained) so far."""
        return self.driver.batches

    def expected_commits(self):
        """The commits a worker sends for the batches trained so far, its final
        commit included (what finish() brings commits to)."""
        return _asyncps.expected_commits(self.config["algorithm"], self.batches, self.config["window"])

    def init_or_pull(self):
        """Offers the current weights as the initial ones (the first worker's
        win), then starts from the PS's: flat[:] = C. Returns True when these
        weights were taken."""
        if self._asyncps_state != "created":
            raise RuntimeError("init_or_pull() was already called")

        def calls():
            taken = self.client.init(self._w)
            self.driver.start(self._w)
            self._asyncps_state = "running"
            self._prepare_next_batch()
            return taken
        return self._on_host(calls, touches=True)

    def step(self, closure=None):
        """The wrapped optimizer's step, then the rule's after-batch work
        (ADAG/DynSGD exchange every window batches; EAMSGD's momentum update),
        then the next batch's before-batch work. Returns the closure's loss
        (recorded for the servers' status page, as record_loss does)."""
        if self._asyncps_state != "running":
            raise RuntimeError("call init_or_pull() before the first step()" if self._asyncps_state == "created"
                               else "step() after finish()")
        loss = super(self.__class__, self).step(closure)
        if loss is not None:
            self.record_loss(loss)
        touches = self._step_touches_weights()
        self._unsent += 1

        def calls():
            self.driver.after_batch(self._w)
            self._prepare_next_batch()
        self._on_host(calls, touches)
        return loss

    def record_loss(self, loss):
        """The loss of the batch just trained (a number or a one-element
        tensor): the mean since the previous commit rides on the next one, for
        the servers' status page. step(closure) records the closure's."""
        self.driver.record_loss(float(loss))

    def finish(self):
        """Sends the batches trained since the last exchange (the final commit),
        tells the shards this worker is done, and stops; returns the commits
        sent in all."""
        if self._asyncps_state != "running":
            raise RuntimeError("finish() before init_or_pull()" if self._asyncps_state == "created"
                               else "finish() was already called")

        # EAMSGD: the driver puts W back as it was before the look-ahead the
        # last step applied, over the host's copy. Overlap: the driver's last
        # pull (or exchange) writes W, even with no batch unsent.
        touches = self._eamsgd or self._unsent > 0 or self.config["overlap"]
        self._on_host(lambda: self.driver.finish(self._w), touches, read=not self._eamsgd)
        self._host_writable()  # the last copy to the device is done when finish() returns
        self.client.leave()  # the shards' staleness bound stops waiting for this worker
        self._asyncps_state = "finished"
        return self.commits

    def _prepare_next_batch(self):
        # EAMSGD: if no batch follows, finish() undoes the look-ahead (RuleDriver.finish).
        if self._before:
            self.driver.before_batch(self._w)

    # --- staging: the weights on a GPU, the client on host memory ---------------

    def _step_touches_weights(self):
        """Whether the driver calls of the coming step() (after_batch, then the
        next batch's before-batch work) read or write the weights. An exchange
        is due when the driver's batch counter (batches + 1, from 1) is a
        multiple of the window and batches are unsent (RuleDriver::Due); after
        a trained batch some always are. With overlap the driver rewrites the
        weights at the same steps (the rebase on its last pull), and only then."""
        if self._eamsgd:
            return True  # the momentum update and the look-ahead, every batch
        window, it = self.config["window"], self.driver.batches + 1
        if self.config["exchange_point"] == "after_batch":  # ADAG, DynSGD: after batch `it`
            return it % window == 0
        if self._before:  # DOWNPOUR, EASGD: before batch `it + 1`
            return (it + 1) % window == 0
        return False

    def _on_host(self, calls, touches, read=True):
        """Runs calls() (driver calls on the host weights). Staged and
        `touches`: copies the weights device -> host first (unless not `read`)
        and host -> device after, once each; otherwise no copy (the driver must
        not exchange then: checked)."""
        commits = self.driver.commits
        staged = self.staged and touches
        if staged:
            if read:
                self._to_host()
            else:
                self._host_writable()
        try:
            result = calls()
        finally:
            if staged:
                self._to_device()
            if self.driver.commits != commits:
                self._unsent = 0
        if self.staged and not touches and self.driver.commits != commits:
            raise RuntimeError("asyncps internal error: the rule exchanged at a step where staging copied no "
                               "weights; please report it")
        return result

    def _host_writable(self):
        """Waits until the last host -> device copy has read `host`."""
        if self._h2d_done is not None:
            self._h2d_done.synchronize()
            self._h2d_done = None

    def _to_host(self):
        self._host_writable()
        if self._cuda:
            self.host.copy_(self.flat, non_blocking=True)
            torch.cuda.current_stream(self.flat.device).synchronize()  # the client reads host next
        else:
            self.host.copy_(self.flat)
        self.copies_to_host += 1

    def _to_device(self):
        if self._cuda:
            # Ordered before the next forward pass on this stream; `host` is
            # not written again before _host_writable() waits for it.
            self.flat.copy_(self.host, non_blocking=True)
            self._h2d_done = torch.cuda.Event()
            self._h2d_done.record(torch.cuda.current_stream(self.flat.device))
        else:
            self.flat.copy_(self.host)
        self.copies_to_device += 1


# The methods of _DistributedOptimizer that a DistributedOptimizer gets.
_METHODS = {k: v for k, v in _DistributedOptimizer.__dict__.items()
            if k not in ("__dict__", "__weakref__", "__module__", "__doc__")}


def DistributedOptimizer(optimizer, model, servers=None, worker_id=None, algorithm=None, window=None,
                         rho=None, eta=None, momentum=None, overlap=None, buffers="travel", _stage=None,
                         **client_options):
    """Wraps a torch.optim.Optimizer so that step() also runs the worker side
    of the run's update rule, as asyncps-worker does around its train step.
    Returns an instance of a subclass of the optimizer's own class (named the
    same), holding the same parameter groups, hyperparameters and state.

    model: the torch.nn.Module (its parameters, then its floating-point
    buffers unless buffers="local": exchanged_tensors()), or (name, tensor)
    pairs such as model.named_parameters() (parameters only); in that order
    they are the layout, and their .data become slices of one flat float32
    buffer (`flat`), which is what the client sends and receives, without
    copies. servers, worker_id, algorithm and
    window/rho/eta/momentum: when None, taken from the environment asyncps.run
    sets ($ASYNCPS_SERVERS, $ASYNCPS_WORKER_ID, $ASYNCPS_ALGORITHM,
    $ASYNCPS_WINDOW, ...), else worker 0, ADAG and Dist-Keras' defaults for the
    rule; average (synchronous model averaging) takes the number of workers
    from $ASYNCPS_NUM_WORKERS. overlap=True (None: $ASYNCPS_OVERLAP, else
    False): each exchange travels in the background while the next window
    trains (asyncps.RuleDriver's overlap; not with average), and `client` is
    the driver's until finish() returns. client_options: asyncps.Client's keyword options (timeouts, CURVE
    keys, compression; help(asyncps.Client) lists them).

    Call init_or_pull() once before the first step and finish() after the
    last. Exchanges "before the batch" (DOWNPOUR, EASGD, EAMSGD, whose next
    forward pass must see the pulled or look-ahead weights) run at the end of
    the previous step(), so the forward pass of every batch sees exactly the
    weights the C++ worker trains at. The optimizer's state (Adam's m, v) stays
    local. Used by one thread at a time.

    A model on a GPU (move it there before creating its optimizer): the
    parameters stay on the device, slices of one flat device buffer (`flat`);
    the client reads and writes `host`, a flat copy in pinned host memory, and
    the weights are copied device -> host just before and host -> device just
    after the rule's driver reads or writes them (an exchange; EAMSGD's
    momentum and look-ahead, every batch), never on the other steps.
    `copies_to_host` and `copies_to_device` count those copies. (_stage=True
    runs the same staging with `flat` on the CPU, for tests.)
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise _asyncps.InvalidArgument(f"optimizer must be a torch.optim.Optimizer, not {type(optimizer).__name__}")
    if hasattr(optimizer, "_asyncps_setup"):
        raise _asyncps.InvalidArgument("optimizer is already a DistributedOptimizer")
    base = type(optimizer)
    cls = type(base.__name__, (base,), dict(_METHODS, __doc__=DistributedOptimizer.__doc__))
    opt = cls.__new__(cls)
    opt.__dict__.update(optimizer.__dict__)  # the same groups, defaults and state
    if worker_id is None:
        worker_id = _from_env(ENV_WORKER_ID, int, "worker id") or 0
    if algorithm is None:
        algorithm = os.environ.get(ENV_ALGORITHM) or "adag"
    rule = {"window": window, "rho": rho, "eta": eta, "momentum": momentum}
    for key, (env, convert) in ENV_RULE.items():
        if rule[key] is None:
            rule[key] = _from_env(env, convert, key)
    if overlap is None:
        overlap = _from_env(ENV_OVERLAP, _flag, "flag (1/true/yes/on or 0/false/no/off)")
    if not isinstance(overlap, (bool, type(None))):
        raise _asyncps.InvalidArgument(f"overlap must be True or False, not {overlap!r}")
    rule["overlap"] = bool(overlap)
    if algorithm == "average":  # the models averaged: the run's workers
        rule["workers"] = _from_env(ENV_NUM_WORKERS, int, "worker count")
    opt._asyncps_setup(exchanged_tensors(model, buffers), _servers(servers), worker_id, algorithm, rule,
                       client_options, _stage)
    return opt


def partition(dataset, worker_id=None, num_workers=None):
    """This worker's share of `dataset` (anything with len() and indexing), as
    DistributedSampler does: every num_workers-th sample starting at the
    worker's id, so the shares are disjoint and cover the data set. Worker ids
    are 0..N-1, as asyncps.run and asyncps-local give them; None: from the
    environment ($ASYNCPS_WORKER_ID, $ASYNCPS_NUM_WORKERS)."""
    if worker_id is None:
        worker_id = _from_env(ENV_WORKER_ID, int, "worker id")
    if num_workers is None:
        num_workers = _from_env(ENV_NUM_WORKERS, int, "worker count")
    if worker_id is None or num_workers is None:
        raise _asyncps.InvalidArgument(f"partition() needs worker_id and num_workers, or ${ENV_WORKER_ID} and "
                                       f"${ENV_NUM_WORKERS} (asyncps.run sets them)")
    if num_workers < 1 or not 0 <= worker_id < num_workers:
        raise _asyncps.InvalidArgument(f"worker_id {worker_id} is outside 0..{num_workers - 1}")
    return torch.utils.data.Subset(dataset, range(worker_id, len(dataset), num_workers))


def pull_model(model, servers=None, buffers="travel", **client_options):
    """Loads the PS's current weights (the centre) into `model`'s parameters
    (and floating-point buffers, unless buffers="local": pass what the run's
    DistributedOptimizer was given), in place, through an observer client
    (which needs no algorithm and never counts as a worker). servers: None
    takes $ASYNCPS_SERVERS. Returns the model."""
    named = exchanged_tensors(model, buffers)
    layout = _asyncps.Layout([(tensor_name(n), tuple(p.shape)) for n, p in named])
    flat = np.empty(layout.total_size, np.float32)
    client = _asyncps.Client(_servers(servers), layout, observer=True, **client_options)
    client.pull(flat)
    client.close()
    with torch.no_grad():
        for i, (_, p) in enumerate(named):
            off, n = layout.offset(i), p.numel()
            p.copy_(torch.from_numpy(flat[off:off + n]).view(p.shape))
    return model


# --- the seed CNN in Keras layout -----------------------------------------------

class Conv2D(torch.nn.Module):
    """Keras' Conv2D (valid padding, stride 1): kernel [kh, kw, in, out],
    bias [out]; input and output NCHW."""

    def __init__(self, in_channels, filters, kernel_size=3):
        super().__init__()
        self.kernel = torch.nn.Parameter(torch.zeros(kernel_size, kernel_size, in_channels, filters))
        self.bias = torch.nn.Parameter(torch.zeros(filters))

    def forward(self, x):
        return F.conv2d(x, self.kernel.permute(3, 2, 0, 1), self.bias)


class Dense(torch.nn.Module):
    """Keras' Dense: kernel [in, out], bias [out]: x @ kernel + bias."""

    def __init__(self, in_features, units):
        super().__init__()
        self.kernel = torch.nn.Parameter(torch.zeros(in_features, units))
        self.bias = torch.nn.Parameter(torch.zeros(units))

    def forward(self, x):
        return torch.addmm(self.bias, x, self.kernel)


DATA_FORMATS = ("channels_first", "channels_last")


def _data_format(data_format):
    if data_format not in DATA_FORMATS:
        raise _asyncps.InvalidArgument(f"data_format must be 'channels_first' (NCHW, PyTorch's) or "
                                       f"'channels_last' (NHWC, Keras'), not {data_format!r}")
    return data_format


class SeedCNN(torch.nn.Module):
    """Dist-Keras' MNIST CNN, as asyncps-worker's seed CNN: Conv2D(32, 3x3)
    ReLU, Conv2D(32, 3x3) ReLU, MaxPool(2x2), Flatten (NHWC order, as Keras),
    Dense(225) ReLU, Dense(classes) (logits; softmax is in the loss).
    Input: float32 [batch, channels, height, width] (NCHW, PyTorch's layout)
    with data_format="channels_first", the default, or [batch, height, width,
    channels] (NHWC, Keras') with "channels_last"; the parameters are the same
    either way. Parameters (named as in the C++ worker once '.' is '/'):
    conv2d_1.kernel/bias, conv2d_2.kernel/bias, dense_1.kernel/bias,
    dense_2.kernel/bias, all slices of one flat buffer, `flat`."""

    def __init__(self, height=28, width=28, channels=1, num_classes=10, data_format="channels_first"):
        super().__init__()
        if height < 6 or width < 6:
            raise _asyncps.InvalidArgument(f"seed CNN: images of {height}x{width} are smaller than 6x6")
        self.data_format = _data_format(data_format)
        self._chw = (channels, height, width)
        self.conv2d_1 = Conv2D(channels, 32)
        self.conv2d_2 = Conv2D(32, 32)
        flat_features = ((height - 4) // 2) * ((width - 4) // 2) * 32
        self.dense_1 = Dense(flat_features, 225)
        self.dense_2 = Dense(225, num_classes)
        self.layout, self.flat = flatten_parameters(self.named_parameters())

    def _check_input(self, x):
        c, h, w = self._chw
        nchw, nhwc = (c, h, w), (h, w, c)
        if self.data_format == "channels_first":
            shape, other, text = nchw, nhwc, ("NCHW", f"[batch, {c}, {h}, {w}]", "NHWC", "channels_last",
                                              "x.permute(0, 3, 1, 2)")
        else:
            shape, other, text = nhwc, nchw, ("NHWC", f"[batch, {h}, {w}, {c}]", "NCHW", "channels_first",
                                              "x.permute(0, 2, 3, 1)")
        if x.dim() == 4 and tuple(x.shape[1:]) == shape:
            return
        hint = ""
        if x.dim() == 4 and tuple(x.shape[1:]) == other:
            hint = f": that is {text[2]}; build the model with data_format='{text[3]}' or pass {text[4]}"
        elif x.dim() == 3 and tuple(x.shape[1:]) == (h, w) and c == 1:
            hint = f": add the channel axis (x.unsqueeze({1 if self.data_format == 'channels_first' else -1}))"
        raise _asyncps.InvalidArgument(f"seed CNN (data_format='{self.data_format}') expects {text[0]} input "
                                       f"{text[1]}, got shape {tuple(x.shape)}{hint}")

    def forward(self, x):
        self._check_input(x)
        if self.data_format == "channels_last":
            x = x.permute(0, 3, 1, 2).contiguous()  # NHWC -> NCHW, the very input channels_first takes
        h = F.relu(self.conv2d_1(x))
        h = F.relu(self.conv2d_2(h))
        h = F.max_pool2d(h, 2)
        h = h.permute(0, 2, 3, 1).reshape(h.shape[0], -1)  # Keras flattens NHWC
        h = F.relu(self.dense_1(h))
        return self.dense_2(h)


def _cpp_uniform(seed, start, n):
    """Draws start+1 .. start+n of asyncps::models::Rng(seed).Uniform()
    (splitmix64, the top 24 bits), as float32."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(start + 1, start + n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / 16777216.0)


def seed_cnn(seed=1, height=28, width=28, channels=1, num_classes=10, data_format="channels_first"):
    """The seed CNN with the C++ worker's initial weights for `seed`
    (Glorot-uniform kernels drawn in layer order from the same generator, zero
    biases): bit for bit what asyncps-worker --seed SEED starts from. Input:
    NCHW (data_format="channels_first", the default) or NHWC
    ("channels_last"); the weights do not depend on it."""
    model = SeedCNN(height, width, channels, num_classes, data_format)
    drawn = 0
    with torch.no_grad():
        for layer in (model.conv2d_1, model.conv2d_2, model.dense_1, model.dense_2):
            k = layer.kernel
            if isinstance(layer, Conv2D):
                taps = k.shape[0] * k.shape[1]
                fan_in, fan_out = taps * k.shape[2], taps * k.shape[3]
            else:
                fan_in, fan_out = k.shape[0], k.shape[1]
            limit = np.sqrt(np.float32(6.0) / np.float32(fan_in + fan_out), dtype=np.float32)
            u = _cpp_uniform(seed, drawn, k.numel())
            drawn += k.numel()
            k.copy_(torch.from_numpy(((np.float32(2.0) * u - np.float32(1.0)) * limit).reshape(k.shape)))
            layer.bias.zero_()
    return model


# --- weights files and evaluation ---------------------------------------------------

def save_weights(path, named_parameters):
    """Writes one array per parameter (under its PS name) to a .npz file, as
    asyncps-worker --save-weights and asyncps-local do."""
    np.savez(path, **{tensor_name(n): p.detach().cpu().numpy() for n, p in _named(named_parameters)})


def load_weights(path, named_parameters):
    """Reads a .npz of asyncps-worker/asyncps-local (or save_weights) into the
    parameters, in place. Raises asyncps.InvalidArgument naming a missing
    tensor or a wrong shape."""
    named = _named(named_parameters)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    with torch.no_grad():
        for n, p in named:
            key = tensor_name(n)
            if key not in arrays:
                raise _asyncps.InvalidArgument(f"{path}: tensor '{key}' is missing; was the file saved from a "
                                               "different model?")
            if tuple(arrays[key].shape) != tuple(p.shape):
                raise _asyncps.InvalidArgument(f"{path}: tensor '{key}' has shape {tuple(arrays[key].shape)}, "
                                               f"the model expects {tuple(p.shape)}")
            p.copy_(torch.from_numpy(arrays[key]))


def evaluate(model, images, labels, batch_size=1000):
    """(accuracy, mean cross-entropy) of `model` on numpy images/labels.
    The images are given to the model as they are, in its input layout
    (seed_cnn(): NCHW, as asyncps.mnist.load gives them, unless it was built
    with data_format="channels_last"), on the device of its parameters."""
    first = next(iter(model.parameters()), None)
    device = first.device if first is not None else torch.device("cpu")
    model.eval()
    correct, loss = 0, 0.0
    with torch.no_grad():
        for i in range(0, len(labels), batch_size):
            x = torch.from_numpy(images[i:i + batch_size]).to(device)
            y = torch.from_numpy(labels[i:i + batch_size]).to(device)
            logits = model(x)
            loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
    model.train()
    n = max(len(labels), 1)
    return correct / n, loss / n
