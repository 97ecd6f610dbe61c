"""Your backprop under test (issue 14): a user's gradient code checked step by step,
PyTorch modules checked against derive, and the pytest fixture."""

import numpy as np
import pytest

import derive
from derive import DeriveError
from derive.testing import (assert_backprop_matches, assert_forward_matches,
                            assert_torch_matches)

TOY = derive.model("toy")
UDL72 = derive.model("mlp:udl72")


def toy_backprop(sin_prime=np.cos, exp_prime=None):
    """Notebook 7.1's three steps, as a student writes them; the two rules can be swapped
    for wrong ones."""
    def backprop(beta0, beta1, beta2, beta3, omega0, omega1, omega2, omega3, x, y):
        f0 = beta0 + omega0 * x
        h1 = np.sin(f0)
        f1 = beta1 + omega1 * h1
        h2 = np.exp(f1)
        f2 = beta2 + omega2 * h2
        h3 = np.cos(f2)
        f3 = beta3 + omega3 * h3
        l_i = (f3 - y) ** 2
        dldf3 = 2 * (f3 - y)
        dldh3 = omega3 * dldf3
        dldf2 = -np.sin(f2) * dldh3
        dldh2 = omega2 * dldf2
        dldf1 = (h2 if exp_prime is None else exp_prime(f1)) * dldh2
        dldh1 = omega1 * dldf1
        dldf0 = sin_prime(f0) * dldh1
        return dict(f0=f0, h1=h1, f1=f1, h2=h2, f2=f2, h3=h3, f3=f3, l_i=l_i, dldf3=dldf3,
                    dldh3=dldh3, dldf2=dldf2, dldh2=dldh2, dldf1=dldf1, dldh1=dldh1,
                    dldf0=dldf0, dldbeta3=dldf3, dldomega3=h3 * dldf3, dldbeta2=dldf2,
                    dldomega2=h2 * dldf2, dldbeta1=dldf1, dldomega1=h1 * dldf1,
                    dldbeta0=dldf0, dldomega0=x * dldf0)
    return backprop


def udl72_backprop(shift=0):
    """Notebook 7.2's forward and backward passes; ``shift=1`` applies the indicator to
    f_k instead of f_{k-1} (a planted bug)."""
    def backprop(all_weights, all_biases, net_input, y):
        K = len(all_weights) - 1
        all_f, all_h = [None] * (K + 1), [None] * (K + 1)
        all_h[0] = net_input
        for k in range(K):
            all_f[k] = all_biases[k] + all_weights[k] @ all_h[k]
            all_h[k + 1] = all_f[k].clip(0.0)
        all_f[K] = all_biases[K] + all_weights[K] @ all_h[K]
        dw, db, df, dh = ([None] * (K + 1) for _ in range(4))
        df[K] = 2 * (all_f[K] - y)
        for k in range(K, -1, -1):
            db[k], dw[k] = np.array(df[k]), df[k] @ all_h[k].T
            dh[k] = all_weights[k].T @ df[k]
            if k > 0:
                df[k - 1] = (all_f[k - 1 + shift] > 0) * dh[k]
        return {"all_f": all_f, "all_h": all_h, "all_dl_df": df, "all_dl_dh": dh,
                "all_dl_dweights": dw, "all_dl_dbiases": db}
    return backprop


def test_a_correct_student_backprop_passes_every_quantity():
    verdict = assert_backprop_matches(TOY, toy_backprop())
    assert verdict.ok and len(verdict.quantities) == 23


def test_a_planted_wrong_rule_names_the_parameters_and_the_first_wrong_step():
    # dldf1 with the derivative of sin (cos) where exp's is due
    with pytest.raises(AssertionError) as raised:
        assert_backprop_matches(TOY, toy_backprop(exp_prime=np.cos))
    message = str(raised.value)
    for name in ("dldbeta1", "dldomega1", "dldbeta0", "dldomega0"):
        assert f"  {name}: yours" in message
    assert "dldbeta3" not in message and "dldomega2" not in message
    assert "first wrong step: dldf1 (backward pass): ∂ℓ/∂f₁ = h₂·∂ℓ/∂h₂" in message
    assert "expected -17.06046653" in message
    assert ("dldf1 is wrong although dldh2 is right: the rule for h₂ = exp[f₁] is the "
            "suspect") in message


def test_notebook_72s_layout_is_read_and_mapped_to_our_names():
    verdict = assert_backprop_matches(UDL72, udl72_backprop())
    kinds = {q.kind for q in verdict.quantities}
    assert kinds == {"value", "adjoint", "gradient"} and len(verdict.quantities) == 34
    with pytest.raises(AssertionError) as raised:
        assert_backprop_matches(UDL72, udl72_backprop(shift=1))
    message = str(raised.value)
    assert "first wrong step: all_dl_df[4] (backward pass)" in message
    assert ("all_dl_df[4] is wrong although all_dl_dh[5] is right: the rule for "
            "h₅ = ReLU[f₄] is the suspect") in message
    assert "all_dl_dbiases[4]: yours" in message


def test_a_forward_pass_alone_is_checked_and_its_first_wrong_step_named():
    def forward(beta0, beta1, omega0, omega1, x):
        f0 = beta0 + omega0 * x
        h1 = np.sin(f0)
        return {"f0": f0, "h1": h1, "f1": beta1 + omega1 * np.cos(f0)}  # cos: wrong
    with pytest.raises(AssertionError) as raised:
        assert_forward_matches(TOY, forward)
    assert ("f1 is wrong although h1 is right: the rule for f₁ = β₁ + ω₁·h₁ is the "
            "suspect") in str(raised.value)
    with pytest.raises(AssertionError, match="a forward pass returns values"):
        assert_forward_matches(TOY, lambda **v: {"dldf3": 1.0})


@pytest.mark.parametrize("fn,message", [
    (lambda **v: {"omega9": 1.0}, "fn returned 'omega9', which toy has no quantity for"),
    (lambda **v: {"omega0": [1.0, 2.0]}, "omega0: shape (2,) holds 2 values, expected a scalar"),
    (lambda **v: {"omega0": "five"}, "omega0: expected a number or an array of numbers"),
    (lambda **v: [5.2], "fn must return a mapping of names to values"),
    (lambda **v: {}, "fn returned nothing derive can compare"),
])
def test_wrong_names_or_shapes_get_a_clear_message_not_a_key_error(fn, message):
    with pytest.raises(AssertionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        assert_backprop_matches(TOY, fn)


def test_a_function_asking_for_what_the_model_lacks_is_a_clear_error():
    with pytest.raises(DeriveError, match="fn takes gamma"):
        assert_backprop_matches(TOY, lambda gamma: {})
    with pytest.raises(DeriveError, match="fn must be a function"):
        assert_backprop_matches(TOY, 3)


def test_the_pytest_fixture_passes_and_fails_as_expected(pytester):
    pytester.makepyfile(test_mine="""
        import numpy as np
        import derive

        def mine(beta3, omega3, beta2, omega2, beta1, omega1, beta0, omega0, x, y, wrong=0.0):
            f3 = beta3 + omega3 * np.cos(beta2 + omega2 * np.exp(beta1 + omega1 * np.sin(beta0 + omega0 * x)))
            return {"dldbeta3": 2 * (f3 - y) + wrong}

        def test_right(derive_check):
            derive_check(derive.model("toy"), mine)

        def test_wrong(derive_check):
            derive_check(derive.model("toy"), lambda **v: mine(**v, wrong=0.5))
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*your backprop disagrees with derive's for toy*",
                                 "*dldbeta3: yours 1.24452*"])


torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install "
                            "'derive[torch]' (torch==2.13.0); .ci/run installs it")


def _network():
    torch.manual_seed(0)
    layers = [torch.nn.Linear(1, 6), torch.nn.ReLU(), torch.nn.Linear(6, 6), torch.nn.ReLU(),
              torch.nn.Linear(6, 1)]
    return torch.nn.Sequential(*layers)


X = [[1.2], [0.3], [-0.7]]
Y = [[2.0], [0.5], [1.0]]


def test_a_torch_sequential_matches_derive():
    net = _network()
    model = assert_torch_matches(net, torch.tensor(X, dtype=torch.float64),
                                 torch.tensor(Y, dtype=torch.float64))
    assert len(model.wrt) == 6 + 6 + 36 + 6 + 6 + 1
    # the model derive built computes what the module computes
    with torch.no_grad():
        out = net.double()(torch.tensor(X, dtype=torch.float64)).numpy()
    assert float(derive.trace(model).loss) == pytest.approx(float(np.sum((out - Y) ** 2)),
                                                            rel=1e-12)


def test_a_custom_autograd_function_with_a_wrong_backward_is_caught():
    class LeakyBackward(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.clamp(min=0)

        @staticmethod
        def backward(ctx, grad):  # wrong: lets x in (-0.5, 0] through
            (x,) = ctx.saved_tensors
            return grad * (x > -0.5).to(grad.dtype)

    class MyReLU(torch.nn.Module):
        def forward(self, x):
            return LeakyBackward.apply(x)

    net = _network()
    mine = torch.nn.Sequential(net[0], MyReLU(), net[2], MyReLU(), net[4])
    with pytest.raises(AssertionError) as raised:
        assert_torch_matches(mine, torch.tensor(X), torch.tensor(Y))
    message = str(raised.value)
    assert "PyTorch's gradients disagree with derive's" in message
    assert "  0.weight[" in message and "(Omega0[" in message
    assert "  4.bias[0]" not in message  # the last layer's bias does not pass a ReLU


def test_a_module_derive_cannot_read_is_a_clear_error():
    with pytest.raises(DeriveError, match="computes no activation of the table"):
        derive.from_torch(torch.nn.Sequential(torch.nn.Linear(1, 2), torch.nn.Hardtanh(),
                                              torch.nn.Linear(2, 1)), X, Y)
