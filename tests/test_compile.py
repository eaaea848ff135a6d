"""tinygrad_vae.compile: a traced and replayed step gives eager's numbers, and refuses what it cannot record.

Every comparison runs the same step twice from the same seed, once eagerly and once compiled, and
compares the losses and the parameters after each step (and the optimizer state at the end).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import tinygrad_vae as tv
from tinygrad_vae import VAE, Tensor, TraceError, gradcheck, gradgradcheck, gradients, nn, optim
from tinygrad_vae.compiler.program import Instr, Program, Ref
from tinygrad_vae.testing import ExpressionGraph, expression_graphs
from tinygrad_vae.testing.strategies import away_from, shapes
from tinygrad_vae.vae.model import LOG_VAR_LINEAR, soft_clamp


def notebook_step(dtype: type = np.float64, opt: str = "sgd", hidden: int = 8, seed: int = 0) -> tuple:
    """The notebook's 2-D VAE step written with generic ops, nn.Linear and an optimizer; (step, params, opt)."""
    rng = np.random.default_rng(seed)
    enc, mu, lv, dec1, dec2 = (nn.Linear(i, o, dtype=dtype, generator=rng)
                               for i, o in ((2, hidden), (hidden, 2), (hidden, 2), (2, hidden), (hidden, 2)))
    params = [p for m in (enc, mu, lv, dec1, dec2) for p in m.parameters()]
    optimizer = optim.SGD(params, lr=0.01) if opt == "sgd" else optim.Adam(params, lr=3e-3)

    def step(x: Tensor, eps: Tensor) -> tuple[Tensor, Tensor]:
        optimizer.zero_grad()
        h = enc(x).relu()
        m, log_var = mu(h), lv(h)
        z = m + (log_var * 0.5).exp() * eps
        d = x - dec2(dec1(z).relu())
        recon = (d * d).sum(axis=1).mean()
        kl = ((1.0 + log_var - m * m - log_var.exp()).sum(axis=1) * -0.5).mean()
        loss = recon + kl
        loss.backward()
        optimizer.step()
        return loss, kl

    return step, params, optimizer


def batches(n: int, dtype: type = np.float64, seed: int = 1, batch: int = 16) -> list[tuple[Tensor, Tensor]]:
    rng = np.random.default_rng(seed)
    return [(Tensor(rng.standard_normal((batch, 2)).astype(dtype)), Tensor(rng.standard_normal((batch, 2)).astype(dtype)))
            for _ in range(n)]


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), 1e-300))


def run_both(make: callable, data: list, **kwargs: object) -> tuple[list, list, tv.Compiled]:
    """(eager, compiled) runs: each a list of (loss, [params]) per step; and the compiled step."""
    runs, compiled = [], None
    for use_compile in (False, True):
        step, params, _ = make(**kwargs)
        if use_compile:
            step = compiled = tv.compile(step)
        runs.append([(step(*args)[0].data.copy(), [p.data.copy() for p in params]) for args in data])
    return runs[0], runs[1], compiled


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_100_steps_equal_eager_in_float64(opt: str) -> None:
    eager, compiled, step = run_both(notebook_step, batches(100), opt=opt)
    for (loss_e, params_e), (loss_c, params_c) in zip(eager, compiled):
        assert relative_error(loss_e, loss_c) <= 1e-12
        assert max(relative_error(a, b) for a, b in zip(params_e, params_c)) <= 1e-12
    # SGD: one program; Adam: the first step (which creates the buffers) and the steps after it.
    assert len(step.entries) == (1 if opt == "sgd" else 2)


def test_matrix_products_equal_eager_bit_for_bit_whatever_the_layout_of_the_batch() -> None:
    """The replay's np.dot (for arrays laid out as BLAS takes them) falls back to np.matmul for a batch in
    Fortran order or a strided view (which np.matmul computes without BLAS): eager's numbers in every case."""
    rng = np.random.default_rng(3)
    layouts = [np.ascontiguousarray, np.asfortranarray,
               lambda a: np.concatenate([a, a], axis=1)[:, ::2]]  # strides (32, 16): no unit stride
    data = [(Tensor(layouts[i % 3](rng.standard_normal((16, 2)))), Tensor(rng.standard_normal((16, 2))))
            for i in range(9)]
    assert not data[2][0].data.flags.c_contiguous and not data[2][0].data.flags.f_contiguous
    eager, compiled, step = run_both(notebook_step, data)
    for (loss_e, params_e), (loss_c, params_c) in zip(eager, compiled):
        assert loss_e == loss_c and all(np.array_equal(a, b) for a, b in zip(params_e, params_c))
    assert "np.dot(" in step.source and "else np.matmul(x, " in step.source and len(step.entries) == 1


def test_float32_stays_float32_and_equals_eager() -> None:
    eager, compiled, _ = run_both(notebook_step, batches(20, np.float32), dtype=np.float32, opt="adam")
    for (loss_e, params_e), (loss_c, params_c) in zip(eager, compiled):
        assert loss_c.dtype == np.float32 and all(p.dtype == np.float32 for p in params_c)
        assert relative_error(loss_e, loss_c) <= 1e-6
        assert max(relative_error(a, b) for a, b in zip(params_e, params_c)) <= 1e-6


def test_replay_leaves_grads_and_optimizer_state_as_eager() -> None:
    states = []
    for use_compile in (False, True):
        step, params, optimizer = notebook_step(opt="adam")
        step = tv.compile(step) if use_compile else step
        for args in batches(5):
            step(*args)
        states.append(([p.grad.data.copy() for p in params],
                       [{k: np.array(v) for k, v in optimizer.state[p].items()} for p in params]))
    (grads_e, state_e), (grads_c, state_c) = states
    for a, b in zip(grads_e, grads_c):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=0)
    for a, b in zip(state_e, state_c):
        assert set(a) == set(b) == {"step", "exp_avg", "exp_avg_sq"}
        assert float(b["step"]) == 5.0
        for key in a:
            np.testing.assert_allclose(b[key], a[key], rtol=1e-12, atol=0)


def vae_step(model: VAE, opt: optim.Optimizer) -> callable:
    def step(x: Tensor) -> Tensor:
        opt.zero_grad()
        loss = model.loss(x)[0]
        loss.backward()
        opt.step()
        return loss

    return step


VAE_CONFIGS = {
    "gaussian": {},
    "bernoulli": {"likelihood": "bernoulli"},
    "mixture": {"prior": "mixture", "prior_components": 4},
    "learned_variance": {"learn_decoder_variance": True},
    "iwae": {"iw_samples": 3},
    "everything": {"prior": "mixture", "learn_decoder_variance": True, "iw_samples": 2, "decoder_variance": 0.05},
}


@pytest.mark.parametrize("name", list(VAE_CONFIGS))
def test_library_vae_compiled_equals_eager_with_the_same_seed(name: str) -> None:
    """The noise is drawn inside the step (the VAE's own Generator): compiled and eager draw the same numbers."""
    config = VAE_CONFIGS[name]
    rng = np.random.default_rng(3)
    data = rng.random((6, 16, 4)) if name == "bernoulli" else rng.standard_normal((6, 16, 4))
    losses, finals = [], []
    for use_compile in (False, True):
        model = VAE(4, hidden_dims=(8,), latent_dim=2, rng=np.random.default_rng(0), dtype=np.float64, **config)
        step = vae_step(model, optim.Adam(model.parameters(), lr=1e-2))
        step = tv.compile(step) if use_compile else step
        losses.append([float(step(Tensor(x)).data) for x in data])
        finals.append([p.data.copy() for p in model.parameters()])
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-12)
    for a, b in zip(*finals):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-300)


@settings(max_examples=10)
@given(expression_graphs(max_steps=6))
def test_random_expression_graphs_replay_with_new_values(graph: ExpressionGraph) -> None:
    """Traced on the graph's inputs, replayed on other values: the same result and gradients as eager."""
    def f(*xs: Tensor) -> tuple[Tensor, tuple]:
        out = graph(*xs)
        return out, gradients(out.sum(), xs)

    compiled = tv.compile(f)
    compiled(*(Tensor(x, requires_grad=True) for x in graph.inputs))
    others = [np.tanh(x + 0.5) for x in graph.inputs]
    out, grads = compiled(*(Tensor(x, requires_grad=True) for x in others))
    assert len(compiled.entries) == 1
    out_e, grads_e = f(*(Tensor(x, requires_grad=True) for x in others))
    np.testing.assert_allclose(out.data, out_e.data, rtol=1e-12, atol=1e-12)
    for g, e in zip(grads, grads_e):
        np.testing.assert_allclose(g.data, e.data, rtol=1e-12, atol=1e-12)


def test_a_learning_rate_scheduled_between_compiled_steps_gives_eager_results() -> None:
    losses = []
    for use_compile in (False, True):
        step, _, optimizer = notebook_step(opt="adam")
        step = tv.compile(step) if use_compile else step
        scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
        run = []
        for args in batches(12):
            run.append(float(step(*args)[0].data))
            scheduler.step()
        losses.append(run)
        if use_compile:
            assert len(step.entries) == 2  # the rate is read at each replay, not frozen into the program
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-12)


def test_control_flow_on_a_hyperparameter_retraces_when_it_changes() -> None:
    """``if weight_decay:`` in the optimizer guards on the value: turning it on traces a new program."""
    losses = []
    for use_compile in (False, True):
        step, _, optimizer = notebook_step(opt="sgd")
        step = tv.compile(step) if use_compile else step
        run = []
        for i, args in enumerate(batches(6)):
            optimizer.param_groups[0]["weight_decay"] = 0.0 if i < 3 else 0.5
            run.append(float(step(*args)[0].data))
        losses.append(run)
        if use_compile:
            assert len(step.entries) == 2
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-12)


def test_retrace_on_new_shapes_dtypes_and_parameter_sets() -> None:
    step, params, optimizer = notebook_step()
    compiled = tv.compile(step)
    x, eps = batches(1)[0]
    compiled(x, eps)
    compiled(x, eps)
    assert len(compiled.entries) == 1
    compiled(*batches(1, batch=8)[0])            # a new batch size
    assert len(compiled.entries) == 2
    compiled(Tensor(x.data.astype(np.float32)).double(), eps)  # the same signature again: no trace
    assert len(compiled.entries) == 2
    optimizer.param_groups[0]["params"] = params[:4]             # another parameter set
    compiled(x, eps)
    assert len(compiled.entries) == 3
    before = [p.data.copy() for p in params[4:]]
    compiled(x, eps)
    assert all(np.array_equal(p.data, b) for p, b in zip(params[4:], before))  # no longer updated


def test_a_parameter_of_a_new_shape_is_a_new_trace() -> None:
    lin = nn.Linear(2, 3, dtype=np.float64)
    opt = optim.SGD(lin.parameters(), lr=0.1)

    def step(x: Tensor) -> Tensor:
        opt.zero_grad()
        loss = (lin(x) ** 2).sum()
        loss.backward()
        opt.step()
        return loss

    compiled = tv.compile(step)
    x = Tensor(np.ones((4, 2)))
    compiled(x)
    lin.weight.data = np.full(lin.weight.shape, 0.5)   # a new array of the same shape: the program still fits
    compiled(x)
    assert len(compiled.entries) == 1
    lin.weight.data, lin.bias.data = np.ones((5, 2)), np.zeros(5)   # another shape (5 outputs)
    compiled(x)
    assert len(compiled.entries) == 2
    assert lin.weight.grad.shape == (5, 2)


def test_returned_tensors_hold_fresh_arrays() -> None:
    step, params, _ = notebook_step()
    lin_weight = params[0]

    def f(x: Tensor, eps: Tensor) -> tuple[Tensor, Tensor]:
        loss, _ = step(x, eps)
        return loss, lin_weight * 1.0

    compiled = tv.compile(f)
    x, eps = batches(1)[0]
    compiled(x, eps)
    first, w1 = compiled(x, eps)
    second, w2 = compiled(x, eps)
    assert first.data is not second.data and w1.data is not w2.data
    assert not np.shares_memory(w2.data, lin_weight.data)
    kept, weight = w1.data.copy(), lin_weight.data.copy()
    w2.data[...] = 1e9
    assert np.array_equal(w1.data, kept) and np.array_equal(lin_weight.data, weight)


def test_noise_is_drawn_fresh_on_every_replay() -> None:
    rng = np.random.default_rng(0)

    def f(x: Tensor) -> Tensor:
        return x + tv.randn(*x.shape, generator=rng, dtype=np.float64)

    compiled = tv.compile(f)
    x = Tensor(np.zeros(3))
    draws = [compiled(x).data for _ in range(3)]
    expected = np.random.default_rng(0).standard_normal((3, 3))
    np.testing.assert_array_equal(np.stack(draws), expected)


# ---- refusals: each names the user's line ---------------------------------------------------
def _refused(fn: callable, *args: object) -> str:
    with pytest.raises(TraceError) as info:
        tv.compile(fn)(*args)
    message = str(info.value)
    assert "test_compile.py" in message
    return message


def test_bool_item_and_float_of_a_traced_tensor_are_refused_naming_the_line() -> None:
    x = Tensor(np.ones(3))

    def branch(t: Tensor) -> Tensor:
        if (t.sum() > 0):  # the refused line
            return t
        return -t

    assert "if (t.sum() > 0):  # the refused line" in _refused(branch, x)
    assert "bool()" in _refused(branch, x)
    assert "item()" in _refused(lambda t: t * t.sum().item(), x)
    assert "float()" in _refused(lambda t: t * float(t.sum().numpy()), x)


def test_data_reads_and_writes_are_refused() -> None:
    x = Tensor(np.ones(3))
    assert ".data read" in _refused(lambda t: Tensor(t.data * 2), x)

    def write(t: Tensor) -> Tensor:
        y = t * 2
        y.data = np.zeros(3)
        return y

    assert ".data write" in _refused(write, x)


def test_numpy_conversions_and_untraced_arrays_are_refused() -> None:
    x = Tensor(np.ones(3))
    assert "np.asarray" in _refused(lambda t: t * np.asarray(t * 2).sum(), x)
    closure = np.arange(3.0)
    assert "does not see" in _refused(lambda t: t * closure, x)
    rng = np.random.default_rng(0)
    assert "does not see" in _refused(lambda t: t + rng.standard_normal(3), x)
    assert "boolean mask" in _refused(lambda t: t[t > 0], x)


def test_the_state_is_restored_after_a_refusal() -> None:
    lin = nn.Linear(2, 2, dtype=np.float64)
    weight = lin.weight.data

    def bad(x: Tensor) -> Tensor:
        y = lin(x)
        return y * y.sum().item()

    _refused(bad, Tensor(np.ones((1, 2))))
    assert lin.weight.data is weight and type(lin.weight.data) is np.ndarray
    assert (lin(Tensor(np.ones((1, 2)))).sum() * 1.0).item() == pytest.approx(float((weight.sum(0) + lin.bias.data).sum()))


def test_source_names_the_parameters_and_the_draw() -> None:
    model = VAE(2, hidden_dims=(4,), latent_dim=2, rng=np.random.default_rng(0), dtype=np.float64)
    step = vae_step(model, optim.SGD(model.parameters(), lr=0.1))
    step.__name__ = "train_step"
    train_step = tv.compile(step)

    with pytest.raises(RuntimeError, match="not been called"):
        train_step.source  # noqa: B018
    train_step(Tensor(np.ones((3, 2))))
    source = train_step.source
    assert source.startswith("def train_step(x):")
    for name in ("encoder_0_weight = ", "encoder_0_weight_grad", "rng.standard_normal((3, 2)", "group_lr"):
        assert name in source


def test_program_check_finds_values_used_before_definition_and_defined_twice() -> None:
    class Slot:
        name = "w"

    ok = Program([(0, Slot())], [1], [Instr((2,), np.add, (Ref(0), Ref(1)))], [(2, Slot())], Ref(2), {}, {})
    ok.check()
    early = Program([], [1], [Instr((2,), np.add, (Ref(3), Ref(1)))], [], Ref(2), {}, {})
    with pytest.raises(ValueError, match="used before"):
        early.check()
    twice = Program([], [1], [Instr((1,), np.negative, (Ref(1),))], [], Ref(1), {}, {})
    with pytest.raises(ValueError, match="defined twice"):
        twice.check()


def test_a_value_check_of_an_op_runs_on_every_replay() -> None:
    """cross_entropy checks its class targets: the compiled step keeps checking them (tracing.fail_if)."""
    def f(logits: Tensor, target: np.ndarray) -> Tensor:
        return nn.functional.cross_entropy(logits, target)

    compiled = tv.compile(f)
    logits = Tensor(np.zeros((2, 3)))
    compiled(logits, np.array([0, 2]))
    with pytest.raises(tv.OpError, match="out of range"):
        compiled(logits, np.array([0, 3]))
    assert len(compiled.entries) == 1


# ---- soft_clamp, one op without a branch on the values ---------------------------------------
@settings(max_examples=10)
@given(away_from(shapes(1, 2), (-LOG_VAR_LINEAR, LOG_VAR_LINEAR), margin=0.05, low=-40.0, high=40.0))
def test_soft_clamp_op_first_and_second_derivatives(x: np.ndarray) -> None:
    """Away from the joints |x| = a, where the second derivative jumps (1 inside, 0 at the joint outside)."""
    assert gradcheck(soft_clamp, [x])
    assert gradgradcheck(soft_clamp, [x])


def test_soft_clamp_equals_its_formula_and_compiles() -> None:
    a = LOG_VAR_LINEAR
    x = np.array([-100.0, -a - 2.0, -a, -3.0, 0.0, 7.5, a, a + 0.5, 60.0])
    outside = np.sign(x) * a * (1.0 + np.tanh((np.abs(x) - a) / a))
    expected = np.where(np.abs(x) <= a, x, outside)
    np.testing.assert_allclose(soft_clamp(Tensor(x)).data, expected, rtol=1e-15)
    compiled = tv.compile(lambda t: soft_clamp(t))
    compiled(Tensor(np.zeros(9)))   # traced where every value is inside ...
    np.testing.assert_allclose(compiled(Tensor(x)).data, expected, rtol=1e-15)   # ... right outside too


# ---- adoption: the Trainer compiles its step by default ----------------------------------------
@pytest.mark.parametrize("preset", ["default", "notebook"])
def test_trainer_compiled_and_eager_give_the_same_run(preset: str) -> None:
    from tinygrad_vae.data import gaussian_mixture
    from tinygrad_vae.vae.training import trainer_from_preset

    results = []
    for use_compile in (True, False):
        rng = np.random.default_rng(7)
        data = gaussian_mixture(200, rng=rng)
        trainer = trainer_from_preset(preset, rng=rng, compile=use_compile)
        trainer.clip_norm = 5.0 if preset == "notebook" else None
        history = trainer.fit(data, 3, log_every=None)
        results.append((history, [p.data.copy() for p in trainer.model.parameters()]))
        assert trainer.compile is use_compile
    (history_c, params_c), (history_e, params_e) = results
    for key in history_e:
        np.testing.assert_allclose(history_c[key], history_e[key], rtol=1e-12)
    for a, b in zip(params_c, params_e):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)


OPTIMIZERS = {
    "sgd_momentum_nesterov": lambda ps: optim.SGD(ps, lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam_amsgrad": lambda ps: optim.Adam(ps, lr=3e-3, amsgrad=True, weight_decay=1e-2),
    "adamw": lambda ps: optim.AdamW(ps, lr=3e-3),
    "rmsprop_centered": lambda ps: optim.RMSprop(ps, lr=1e-3, momentum=0.5, centered=True),
    "adagrad": lambda ps: optim.Adagrad(ps, lr=1e-2, lr_decay=1e-3),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_compiled_equals_eager(name: str) -> None:
    runs = []
    data = np.random.default_rng(2).standard_normal((8, 16, 2))
    for use_compile in (False, True):
        model = VAE(2, hidden_dims=(8,), latent_dim=2, rng=np.random.default_rng(0), dtype=np.float64)
        step = vae_step(model, OPTIMIZERS[name](list(model.parameters())))
        step = tv.compile(step) if use_compile else step
        runs.append(([float(step(Tensor(x)).data) for x in data], [p.data.copy() for p in model.parameters()]))
    (losses_e, params_e), (losses_c, params_c) = runs
    np.testing.assert_allclose(losses_c, losses_e, rtol=1e-12)
    for a, b in zip(params_e, params_c):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-300)


def test_cli_train_no_compile_gives_the_same_run(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from tinygrad_vae.vae import cli, training

    compiled_flags, real_fit = [], training.Trainer.fit

    def recording_fit(trainer: training.Trainer, *args: object, **kwargs: object) -> object:
        compiled_flags.append(trainer.compile)
        return real_fit(trainer, *args, **kwargs)

    monkeypatch.setattr(training.Trainer, "fit", recording_fit)
    histories = []
    for flags in ([], ["--no-compile"]):
        folder = tmp_path / ("eager" if flags else "compiled")
        argv = ["train", "--dataset", "mixture", "--epochs", "2", "--hidden-dims", "8", "--batch-size", "256",
                "--no-figures", "--out", str(folder), "-q", *flags]
        assert cli.main(argv, stdout=io.StringIO(), stderr=io.StringIO()) == 0
        histories.append((folder / "history.csv").read_text())
    assert compiled_flags == [True, False]
    assert histories[0] == histories[1]


def test_locations_read_and_write_what_the_generated_code_does() -> None:
    """The bindings of a program: a parameter's array, its .grad (a new Tensor per write), an optimizer entry."""
    from tinygrad_vae.compiler.state import DictItem, GradSlot, TensorSlot

    t = Tensor(np.ones(2), requires_grad=True)
    data, grad = TensorSlot(t, "w"), GradSlot(t, "w.grad")
    data.write(np.zeros(2))
    grad.write(np.full(2, 3.0))
    assert np.array_equal(t.data, np.zeros(2)) and np.array_equal(grad.read(), np.full(2, 3.0))
    assert data.read() is t.data and grad.holder_name() == "w"
    state = {"step": 1}
    item = DictItem(state, "step", "w.step", "w")
    item.number_type = int
    item.write(np.float64(2.0))
    assert state["step"] == 2 and type(state["step"]) is int and item.read() == 2
    assert item.holder_name() == "w.state" and item.write_stmt("s", "v") == "s['step'] = int(v)"


def test_a_gradient_into_an_argument_is_refused() -> None:
    w = Tensor(np.ones(2), requires_grad=True)

    def step(x: Tensor) -> Tensor:
        loss = (x * w).sum()
        loss.backward()
        return loss

    with pytest.raises(TraceError, match="argument"):
        tv.compile(step)(Tensor(np.ones(2), requires_grad=True))
    assert type(w.data) is np.ndarray


def test_annealing_the_vae_beta_between_compiled_steps_gives_eager_results() -> None:
    losses = []
    for use_compile in (False, True):
        model = VAE(2, hidden_dims=(8,), latent_dim=2, rng=np.random.default_rng(0), dtype=np.float64)
        step = vae_step(model, optim.SGD(model.parameters(), lr=0.01))
        step = tv.compile(step) if use_compile else step
        run = []
        for i, x in enumerate(np.random.default_rng(4).standard_normal((6, 16, 2))):
            model.beta = min(1.0, 0.25 * (i // 2))
            run.append(float(step(Tensor(x)).data))
        losses.append(run)
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-12)


def test_the_2d_example_compiles_by_default_with_eager_numbers() -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "vae_2d.py"
    spec = importlib.util.spec_from_file_location("vae_2d_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    compiled, _ = example.train_2d("default", seed=0, epochs=2, quiet=True)
    eager, _ = example.train_2d("default", seed=0, epochs=2, quiet=True, compile=False)
    assert compiled.compile and not eager.compile
    assert compiled.history == eager.history
    assert "--no-compile" in path.read_text()


def test_batchnorm_and_dropout_compiled_equal_eager_through_train_and_eval() -> None:
    """Running statistics (buffers updated in place, `n[...] += 1` included), dropout masks drawn on every
    replay, and train()/eval() switching between compiled steps (each mode its own program)."""
    runs = []
    for use_compile in (False, True):
        rng = np.random.default_rng(0)
        net = nn.Sequential(nn.Linear(3, 4, dtype=np.float64, generator=rng), nn.BatchNorm1d(4, dtype=np.float64),
                            nn.ReLU(), nn.Dropout(0.3, generator=np.random.default_rng(5)),
                            nn.Linear(4, 1, dtype=np.float64, generator=rng))
        opt = optim.SGD(net.parameters(), lr=0.1)

        def step(x: Tensor, net: nn.Module = net, opt: optim.Optimizer = opt) -> Tensor:
            opt.zero_grad()
            loss = (net(x) ** 2).mean()
            loss.backward()
            opt.step()
            return loss

        step = tv.compile(step) if use_compile else step
        losses = []
        for i, x in enumerate(np.random.default_rng(1).standard_normal((8, 8, 3))):
            net.train(i % 4 < 2)
            losses.append(float(step(Tensor(x)).data))
        runs.append((losses, [b.data.copy() for b in net.buffers()]))
        if use_compile:
            assert len(step.entries) == 2
    (losses_e, buffers_e), (losses_c, buffers_c) = runs
    np.testing.assert_allclose(losses_c, losses_e, rtol=1e-12)
    for a, b in zip(buffers_e, buffers_c):
        np.testing.assert_allclose(b, a, rtol=1e-12)
