"""The documented limits and choices that ``derive --help`` states, in one module that
imports nothing heavy: ``derive --version`` and ``--help`` read them without SymPy,
numpy, Jinja2 or matplotlib.  The modules that enforce them import them from here.
"""

MAX_BATCH = 1_000_000
"""The largest batch: --batch, and the entries of a batch file (about 8 s and 0.5 GB for
a check of the toy model)."""
MAX_SEED = 2**32 - 1
"""Seeds run from 0 to 2**32 - 1."""

FD_SAMPLE = 2_000
"""Above this many variables, forward mode, the central difference and the complex step
(each a pass or more per variable) run on a seeded sample of this many, unless
``fd_all``: a check at the network limit (99,073 parameters) then takes about a minute,
not half an hour.  Backprop and the symbolic derivative cover every variable."""

MAX_HESSIAN_VARIABLES = 1_000
"""The most variables ``derive hessian`` takes: its four P×P matrices of Python floats
hold about 128 bytes an entry (1,000 variables: 128 MB); more is refused before work
(--wrt chooses fewer).  mlp:1-256-256-1's 66,561 would need 4.4 billion entries."""

MAX_NODES = 60
"""Graph pictures with more nodes fold their middle layers into one node."""

BACKENDS = {
    "numpy": "numpy arrays (the default): the code needs only numpy",
    "torch": "PyTorch tensors, on whatever device the inputs are: every argument becomes "
             "a float64 tensor (torch.as_tensor), so the code runs where the model runs",
    "jax": "JAX arrays: the function is jax.jit-compiled, and importing the file turns "
           "on float64 (jax_enable_x64), as derive computes",
}
"""The array libraries generated code is written for."""

BUDGET = 20.0
"""Seconds a single method may be predicted to take before ``bench``, ``check``,
``sizes`` and ``report`` skip it, saying why (``--budget`` changes it)."""

MEMORY = 4 * 1024**3
"""Bytes a check over a batch may be predicted to hold at its peak (measured: about 12
times the float64 values one forward pass keeps per example, times the batch); above it
the check is refused before work, with its prediction (chain:tanh*512 at a batch of
1,000,000: about 150 GB)."""
MEMORY_FACTOR = 12
"""Peak bytes of a check over 8 bytes times the values a forward pass keeps, as measured
here (/usr/bin/time -f %M derive check ... --batch N): toy 2.7, chain:tanh*64 3.7,
mlp:udl72 11, rounded up."""


GRADE_MEMORY_MB = 2048
"""``derive grade --memory``: address space of a graded notebook's kernel and of each
process it starts (MB)."""
GRADE_PROCESSES = 64
"""``derive grade --processes``: processes and threads a graded notebook may run at once
(its kernel uses about 10)."""
GRADE_FILE_MB = 200
"""``derive grade --file-size``: the largest file a graded notebook may write (MB); inside
a bwrap jail, what it may write in all."""
JAILS = ("auto", "bwrap", "off")
"""``derive grade --jail``: bwrap where it works (auto), bwrap or refuse (bwrap), no jail
(off)."""


# ---- the families' sizes, and the caps on symbolic work (each defined here, once) ----

MAX_CHAIN_LAYERS = 512
"""``chain:LIST*K``: the most layers a chain may have."""
MAX_LOGISTIC = 1000
"""``logistic:N``: the largest N."""
MAX_NETWORK_WIDTH = 256
"""``mlp:…``: the widest layer."""
MAX_NETWORK_LAYERS = 64
"""``mlp:…``: the most layers (widths after the input's)."""
MAX_NETWORK_PARAMETERS = 100_000
"""``mlp:…``: the most weights and biases."""
DIFF_WORK_CAP = 5_000
"""sympy.diff runs while the loss's tree nodes × the variables are at most this (``check``,
``report``, ``sizes``)."""
HESSIAN_DIFF_CAP = 20_000
"""sympy.diff twice (``hessian``) runs while the loss's tree size × P² is at most this."""
LATEX_CAP = 20_000
"""Tree nodes above which an expression's LaTeX is not printed (printing walks the tree)."""
LAMBDIFY_TREE_CAP = 200_000
"""Printed tree nodes above which expressions are evaluated by generated code, not lambdify."""
LAMBDIFY_DEPTH_CAP = 100
"""Depth (operations) above which generated code is used: lambdify's printer recurses."""
