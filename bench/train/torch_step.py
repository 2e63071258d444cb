"""The PyTorch peer of `pnpm bench:train`: the bare `mru` network rebuilt from its equations.

    x = Linear(1 -> 16)(input)
    2 x:  x^ = LayerNorm(x);  c = W_c x^ + b_c;  beta = W_beta x^ + b_beta
          z = H(|c| - |beta|), v = sign(c)     (arctangent surrogate gradients)
          s_t = (1 - z_t) s_{t-1} + z_t v_t from s0   (one autograd.Function, see Scan)
          x = x + gamma1 * sigmoid(W_g x^ + b_g) * (W_p (alpha s) + b_p)
    out = Linear(16 -> 1)(x at the last step);  loss = MSE

then clip_grad_norm_(1) and torch.optim.AdamW (lr 1e-3, betas (0.9, 0.99), weight decay 1e-4 on the
Linear weights only), on one thread. The parameter layout ([name, shape, decay]) is rebuilt here from
the same equations and checked against the one the node driver writes; the initial values and the
batches are mru's, read from the driver's files, so one batch gives mru's loss and gradient.

The scan is one autograd.Function whose backward is the reverse scan (over `a` shifted by one step),
in one of two forms: 'loop', a Python loop over time of one fused multiply-add per step on
[batch, channels] slices, and 'chunked', a two-level scan that walks L = ceil(sqrt(T)) positions of
all chunks at once, then the T/L chunk carries, then applies the carries in one vectorised pass
(about 2 sqrt(T) Python iterations instead of T).

It runs as a child of the driver and answers JSON commands, one a line, on stdin/stdout, so that its
rounds interleave with the JS rounds: timings are measured here (time.perf_counter around a whole
step, ending with loss.item(), and time.process_time for the CPU time of this process) and sent back.
"""
import json
import math
import os
import sys
import time
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)

D_IN, D_MODEL, D_OUT, N_LAYERS, D_STATE = 1, 16, 1, 2, 64
LN_EPS, SURROGATE_K = 1e-5, 1.0
LR, BETAS, EPS, WEIGHT_DECAY, CLIP = 1e-3, (0.9, 0.99), 1e-8, 1e-4, 1.0


def layout():
    """[name, shape, decay] in mru's order: Linear weights decay, nothing else does."""
    out = []

    def linear(name, i, o):
        out.append([f"{name}.weight", [i, o], True])
        out.append([f"{name}.bias", [o], False])

    linear("input", D_IN, D_MODEL)
    for l in range(N_LAYERS):
        p = f"layers.{l}"
        out += [[f"{p}.norm1.weight", [D_MODEL], False], [f"{p}.norm1.bias", [D_MODEL], False]]
        linear(f"{p}.cell.wc", D_MODEL, D_STATE)
        linear(f"{p}.cell.wbeta", D_MODEL, D_STATE)
        out += [[f"{p}.cell.alpha", [D_STATE], False], [f"{p}.cell.s0", [D_STATE], False]]
        linear(f"{p}.proj", D_STATE, D_MODEL)
        linear(f"{p}.gate", D_MODEL, D_MODEL)
        out.append([f"{p}.gamma1", [D_MODEL], False])
    linear("readout", D_MODEL, D_OUT)
    return out


def surrogate(u):
    return SURROGATE_K / (1 + (math.pi * SURROGATE_K * u) ** 2)


class Heaviside(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u):
        ctx.save_for_backward(u)
        return (u >= 0).to(u.dtype)

    @staticmethod
    def backward(ctx, g):
        (u,) = ctx.saved_tensors
        return g * surrogate(u)


class SignSte(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u):
        ctx.save_for_backward(u)
        return torch.where(u >= 0, 1.0, -1.0).to(u.dtype)

    @staticmethod
    def backward(ctx, g):
        (u,) = ctx.saved_tensors
        return g * (2 * surrogate(u))


def scan_loop(a, b, h0):
    """h_t = a_t h_{t-1} + b_t over [B, T, C] from h0 [B, C]: one addcmul per step, time-major."""
    at = a.transpose(0, 1).contiguous()
    bt = b.transpose(0, 1).contiguous()
    out = torch.empty_like(bt)
    h = h0
    for t in range(bt.shape[0]):
        torch.addcmul(bt[t], at[t], h, out=out[t])
        h = out[t]
    return out.transpose(0, 1)


def scan_chunked(a, b, h0):
    """The same recurrence in chunks of L = ceil(sqrt(T)): local scans, carries, one fix-up pass."""
    B, T, C = b.shape
    L = max(1, math.ceil(math.sqrt(T)))
    n = -(-T // L)
    pad = n * L - T
    if pad:
        # a = 1, b = 0 past the end: the padded steps hold the state and are cut off below.
        a = F.pad(a, (0, 0, 0, pad), value=1.0)
        b = F.pad(b, (0, 0, 0, pad))
    # [L, B, n, C]: position in chunk first, so each step of the local loop is a contiguous slice.
    A = a.reshape(B, n, L, C).permute(2, 0, 1, 3).contiguous()
    X = b.reshape(B, n, L, C).permute(2, 0, 1, 3).contiguous()
    H = torch.empty_like(X)
    P = torch.empty_like(A)
    H[0] = X[0]
    P[0] = A[0]
    for j in range(1, L):
        torch.addcmul(X[j], A[j], H[j - 1], out=H[j])
        torch.mul(A[j], P[j - 1], out=P[j])
    # Chunk k maps the carry c to P_end c + H_end; scan those maps over the chunks.
    p_end = P[L - 1].transpose(0, 1).contiguous()
    h_end = H[L - 1].transpose(0, 1).contiguous()
    carries = torch.empty_like(h_end)
    c = h0
    for k in range(n):
        carries[k] = c
        c = torch.addcmul(h_end[k], p_end[k], c)
    H.addcmul_(P, carries.transpose(0, 1).unsqueeze(0))
    return H.permute(1, 2, 0, 3).reshape(B, n * L, C)[:, :T]


SCANS = {"loop": scan_loop, "chunked": scan_chunked}


def make_scan(impl):
    class Scan(torch.autograd.Function):
        """Forward the scan; backward lambda_t = g_t + a_{t+1} lambda_{t+1}, da_t = lambda_t h_{t-1}."""

        @staticmethod
        def forward(ctx, a, b, s0):
            B, _, C = b.shape
            h = impl(a, b, s0.expand(B, C))
            ctx.save_for_backward(a, h, s0)
            return h

        @staticmethod
        def backward(ctx, g):
            a, h, s0 = ctx.saved_tensors
            B, _, C = g.shape
            shifted = torch.zeros_like(a)
            shifted[:, :-1] = a[:, 1:]
            lam = impl(shifted.flip(1), g.flip(1), g.new_zeros(B, C)).flip(1)
            prev = torch.cat([s0.expand(B, 1, C), h[:, :-1]], 1)
            return lam * prev, lam, (a[:, 0] * lam[:, 0]).sum(0)

    return Scan.apply


def loss_fn(p, scan, x, y):
    B, T, _ = x.shape

    def linear(name, v):
        return torch.addmm(p[f"{name}.bias"], v, p[f"{name}.weight"])

    h = linear("input", x.reshape(B * T, D_IN))
    for l in range(N_LAYERS):
        q = f"layers.{l}"
        xh = F.layer_norm(h, (D_MODEL,), p[f"{q}.norm1.weight"], p[f"{q}.norm1.bias"], LN_EPS)
        c = linear(f"{q}.cell.wc", xh)
        beta = linear(f"{q}.cell.wbeta", xh)
        z = Heaviside.apply(c.abs() - beta.abs())
        v = SignSte.apply(c)
        s = scan((1 - z).view(B, T, D_STATE), (z * v).view(B, T, D_STATE), p[f"{q}.cell.s0"])
        y_cell = s.reshape(B * T, D_STATE) * p[f"{q}.cell.alpha"]
        gate = torch.sigmoid(linear(f"{q}.gate", xh))
        h = h + gate * linear(f"{q}.proj", y_cell) * p[f"{q}.gamma1"]
    last = h.view(B, T, D_MODEL)[:, -1]
    return F.mse_loss(linear("readout", last), y)


class Trainer:
    def __init__(self, directory, scan):
        with open(os.path.join(directory, "meta.json")) as f:
            meta = json.load(f)
        mine = layout()
        if meta["layout"] != mine:
            raise ValueError(f"parameter layout differs from the driver's: {meta['layout']} vs {mine}")
        flat = np.fromfile(os.path.join(directory, "params.bin"), dtype=np.float32)
        self.count = sum(math.prod(shape) for _, shape, _ in mine)
        if flat.size != self.count:
            raise ValueError(f"params.bin has {flat.size} values, the layout {self.count}")
        self.params = {}
        offset = 0
        for name, shape, _ in mine:
            size = math.prod(shape)
            t = torch.from_numpy(flat[offset : offset + size].copy()).reshape(shape)
            self.params[name] = t.requires_grad_(True)
            offset += size
        decay = [self.params[n] for n, _, d in mine if d]
        rest = [self.params[n] for n, _, d in mine if not d]
        self.opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": rest, "weight_decay": 0.0}],
            lr=LR,
            betas=BETAS,
            eps=EPS,
        )
        K, B, T = meta["batches"], meta["batch"], meta["T"]
        data = np.fromfile(os.path.join(directory, "batches.bin"), dtype=np.float32)
        xs = data[: K * B * T].reshape(K, B, T, D_IN)
        ys = data[K * B * T :].reshape(K, B, D_OUT)
        self.batches = [(xs[k], ys[k]) for k in range(K)]
        self.index = 0
        self.scan = make_scan(SCANS[scan])

    def batch(self, k):
        x, y = self.batches[k]
        return torch.from_numpy(x), torch.from_numpy(y)

    def step(self):
        x, y = self.batch(self.index % len(self.batches))
        self.index += 1
        self.opt.zero_grad(set_to_none=True)
        loss = loss_fn(self.params, self.scan, x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(self.params.values()), CLIP)
        self.opt.step()
        return loss.item()

    def loss_and_grads(self, k):
        x, y = self.batch(k)
        for p in self.params.values():
            p.grad = None
        loss = loss_fn(self.params, self.scan, x, y)
        loss.backward()
        grads = {n: p.grad.reshape(-1).tolist() for n, p in self.params.items()}
        for p in self.params.values():
            p.grad = None
        return loss.item(), grads


# Views and aliases: no data moves, so they are left out of the calls (mru copies instead, and counts).
VIEWS = {
    "_reshape_alias", "_unsafe_view", "alias", "as_strided", "detach", "diagonal", "expand", "narrow",
    "permute", "select", "slice", "split", "squeeze", "t", "transpose", "unbind", "unsqueeze", "view",
}


def count_ops(trainer):
    """ATen operator calls of one step (forward, backward, clipping, AdamW), views apart."""
    try:
        from torch.utils._python_dispatch import TorchDispatchMode
    except ImportError:
        return None
    counts = Counter()

    class Count(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            counts[str(func.overloadpacket.__name__)] += 1
            return func(*args, **(kwargs or {}))

    # What autograd saves for backward, by storage (a view saves its base's), less the parameters and
    # the batch: PyTorch's own answer to "activations kept for backward".
    saved = {}
    own = {p.storage().data_ptr() for p in trainer.params.values()}
    own |= {a.ctypes.data for batch in trainer.batches for a in batch}

    def pack(t):
        st = t.storage()
        if st.data_ptr() not in own:
            saved[st.data_ptr()] = st.nbytes()
        return t

    with Count(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        trainer.step()
    views = sum(n for k, n in counts.items() if k in VIEWS)
    work = Counter({k: n for k, n in counts.items() if k not in VIEWS})
    return {
        "calls": sum(work.values()),
        "views": views,
        "top": work.most_common(4),
        "saved": sum(saved.values()),
    }


def blas_library():
    """The BLAS shared object this process actually mapped (Debian's torch links libblas.so.3)."""
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "/" in line}
    hits = sorted(p for p in paths if "blas" in os.path.basename(p).lower())
    return hits


def main():
    # Make sure the BLAS is loaded (it is on first use) before reporting which one it is.
    torch.mm(torch.ones(2, 2), torch.ones(2, 2))
    trainers = {}
    for line in sys.stdin:
        msg = json.loads(line)
        cmd = msg["cmd"]
        try:
            if cmd == "hello":
                reply = {"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas_library()}
            elif cmd == "setup":
                t = Trainer(msg["dir"], msg["scan"])
                trainers[msg["key"]] = t
                reply = {"params": t.count}
            elif cmd == "time":
                t = trainers[msg["key"]]
                ms, cpu, losses = [], [], []
                for _ in range(msg["steps"]):
                    t0 = time.perf_counter()
                    c0 = time.process_time()
                    losses.append(t.step())
                    cpu.append((time.process_time() - c0) * 1000)
                    ms.append((time.perf_counter() - t0) * 1000)
                reply = {"ms": ms, "cpu": cpu, "losses": losses}
            elif cmd == "check":
                loss, grads = trainers[msg["key"]].loss_and_grads(msg.get("batch", 0))
                reply = {"loss": loss, "grads": grads}
            elif cmd == "count":
                reply = {"count": count_ops(trainers[msg["key"]])}
            elif cmd == "drop":
                trainers.pop(msg["key"], None)
                reply = {}
            elif cmd == "quit":
                break
            else:
                raise ValueError(f"unknown command {cmd}")
        except Exception as e:  # reported to the driver, which prints it and skips the row
            reply = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
