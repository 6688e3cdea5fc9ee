"""The env registry: gymnax ids resolve, and a module dropped into envs/ registers its ids."""

import gymnax
import pytest

import bootstrap_rl
from bootstrap_rl import registry

DROPPED_MODULE = '''
from gymnax.environments.classic_control.cartpole import CartPole
from bootstrap_rl.registry import register


class LongCartPole(CartPole):
    @property
    def default_params(self):
        return super().default_params.replace(max_steps_in_episode=1234)


register("LongCartPole-v0", LongCartPole)
'''


def test_gymnax_ids_resolve():
    env, params = bootstrap_rl.make("CartPole-v1")
    assert type(env).__name__ == "CartPole"
    assert params.max_steps_in_episode == 500


def test_dropped_in_module_is_discovered(tmp_path, monkeypatch):
    (tmp_path / "long_cartpole.py").write_text(DROPPED_MODULE)
    (tmp_path / "_helper.py").write_text("raise RuntimeError('underscore modules are not imported')")
    from bootstrap_rl import envs

    monkeypatch.setattr(envs, "__path__", [*envs.__path__, str(tmp_path)])
    monkeypatch.setattr(registry, "_discovered", False)
    # Leave gymnax's global registry as we found it.
    ids = list(gymnax.registration.registered_envs)
    monkeypatch.setattr(gymnax.registration, "_registry", dict(gymnax.registration._registry))
    monkeypatch.setattr(gymnax.registration, "registered_envs", ids)
    monkeypatch.setattr(gymnax, "registered_envs", ids)
    env, params = bootstrap_rl.make("LongCartPole-v0")
    assert params.max_steps_in_episode == 1234
    assert gymnax.make("LongCartPole-v0")[1].max_steps_in_episode == 1234  # gymnax sees it too
    assert registry.registered_ids()["LongCartPole-v0"].endswith("long_cartpole")
    # Importing the module again (registering the same factory) is harmless ...
    registry.register("LongCartPole-v0", gymnax.registration._registry["LongCartPole-v0"])
    # ... but a different factory under a taken id is an error naming it.
    with pytest.raises(ValueError, match="LongCartPole-v0"):
        registry.register("LongCartPole-v0", lambda: env)


def test_unknown_id_suggests_a_close_one():
    with pytest.raises(bootstrap_rl.UnknownEnvError, match="Did you mean 'CartPole-v1'"):
        bootstrap_rl.make("cartpole")
