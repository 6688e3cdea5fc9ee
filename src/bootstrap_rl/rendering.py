"""Render episodes to PNG frames or animated GIFs.

The rendering convention every task family follows: an environment that can be drawn has a
method ``render(state, params) -> uint8 [H, W, 3]`` that is a pure, jittable function of the
state and params (no host callbacks), so a whole episode is rendered inside one ``lax.scan``.
Optionally it has ``describe(params) -> str``, a caption for the task, which the GIF writer
puts above the frames. Nothing here knows about a specific family.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Policy = Callable[[jax.Array, jax.Array], jax.Array]  # (key, obs) -> action


def _as_frames(frames: Any) -> np.ndarray:
    array = np.asarray(frames)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(f"frames: expected uint8 [T, H, W, 3] (or one [H, W, 3]), got shape {array.shape}")
    if array.dtype != np.uint8:
        raise ValueError(f"frames: expected dtype uint8, got {array.dtype}")
    return array


def save_png(frame: Any, path: str | Path) -> Path:
    """Write one uint8 [H, W, 3] frame as a PNG."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_as_frames(frame)[0]).save(path)
    return path


def save_frames(frames: Any, directory: str | Path, *, prefix: str = "frame") -> list[Path]:
    """Write uint8 [T, H, W, 3] frames as ``directory/{prefix}_0000.png`` ... ; returns the paths."""
    directory = Path(directory)
    return [save_png(frame, directory / f"{prefix}_{i:04d}.png") for i, frame in enumerate(_as_frames(frames))]


def save_gif(frames: Any, path: str | Path, *, fps: float = 8.0, caption: str | None = None,
             scale: int = 1) -> Path:
    """Write uint8 [T, H, W, 3] frames as a looping animated GIF.

    ``caption`` adds a text strip above every frame; ``scale`` enlarges by pixel repetition.
    """
    from PIL import Image, ImageDraw

    if fps <= 0:
        raise ValueError(f"fps: must be positive, got {fps}")
    if not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale: must be a positive int, got {scale!r}")
    array = _as_frames(frames)
    if scale > 1:
        array = array.repeat(scale, axis=1).repeat(scale, axis=2)
    images = []
    for i, frame in enumerate(array):
        image = Image.fromarray(frame)
        if caption is not None:  # two lines: the caption, then the frame index
            strip = 30
            canvas = Image.new("RGB", (image.width, image.height + strip), (20, 20, 20))
            canvas.paste(image, (0, strip))
            draw = ImageDraw.Draw(canvas)
            draw.text((3, 2), caption, fill=(230, 230, 230))
            draw.text((3, 15), f"t={i}", fill=(170, 170, 170))
            image = canvas
        images.append(image)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0,
                   optimize=False)
    return path


def random_policy(env: Any, params: Any) -> Policy:
    """A uniform random policy over the env's action space."""
    space = env.action_space(params)
    return lambda key, obs: space.sample(key)


def rollout_frames(env: Any, params: Any, key: jax.Array, policy_fn: Policy, num_steps: int,
                   render_fn: Callable[[Any, Any], jax.Array] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run ``num_steps`` steps from a reset and render every state (auto-resets included).

    Returns ``(frames uint8 [num_steps + 1, H, W, 3], dones bool [num_steps])``; ``dones[t]``
    says step t ended an episode, so frame t + 1 starts a new one. One jitted ``lax.scan``.
    """
    if not isinstance(num_steps, int) or num_steps < 0:
        raise ValueError(f"num_steps: must be a non-negative int, got {num_steps!r}")
    render_fn = render_fn or env.render

    @jax.jit
    def run(key):
        reset_key, key = jax.random.split(key)
        obs, state = env.reset(reset_key, params)

        def body(carry, step_key):
            obs, state = carry
            act_key, env_key = jax.random.split(step_key)
            frame = render_fn(state, params)
            action = policy_fn(act_key, obs)
            obs, state, _, terminated, truncated, _ = env.step(env_key, state, action, params)
            return (obs, state), (frame, terminated | truncated)

        (obs, state), (frames, dones) = jax.lax.scan(body, (obs, state), jax.random.split(key, num_steps))
        last = render_fn(state, params)[None]
        return jnp.concatenate([frames, last]) if num_steps else last, dones

    frames, dones = run(key)
    return np.asarray(frames), np.asarray(dones)


def render_episode_gif(env_id: str, path: str | Path, *, seed: int = 0, num_steps: int | None = None,
                       policy: Policy | None = None, params: Any = None, fps: float = 8.0) -> Path:
    """Write a GIF of ``env_id`` played by ``policy`` (None: uniform random) and return its path.

    ``num_steps`` defaults to one episode's step limit (``params.max_steps_in_episode``).
    ``policy`` is a jittable ``(key, obs) -> action``. The env must follow the ``render``
    convention in this module's docstring.
    """
    from bootstrap_rl.registry import make

    env, default_params = make(env_id)
    params = default_params if params is None else params
    if not callable(getattr(env, "render", None)):
        raise ValueError(f"env_id {env_id!r} has no render(state, params) method to draw it with")
    if num_steps is None:
        num_steps = int(np.asarray(params.max_steps_in_episode))
    policy = policy or random_policy(env, params)
    frames, _ = rollout_frames(env, params, jax.random.key(seed), policy, int(num_steps))
    describe = getattr(env, "describe", None)
    caption = f"{env_id}: {describe(params)}" if callable(describe) else env_id
    scale = max(1, round(400 / max(frames.shape[2], 1)))  # ~400 px wide, room for the caption
    return save_gif(frames, path, fps=fps, caption=caption, scale=scale)


__all__: Sequence[str] = [
    "save_png", "save_frames", "save_gif", "random_policy", "rollout_frames", "render_episode_gif",
]
