"""Limbs: a planar arm of N links, a continuous-control task family for motor childhood.

Playroom's actions are already abstract (turn, forward). Limbs starts below the level of
actions: the agent sets joint torques and has to learn to move its own body before it can
reach, follow or draw (L:childhood in DESIGN.md). One body, one observation space, five task
kinds forming a ladder:

========  ===================================================================  =========
kind      goal and reward                                                      step limit
========  ===================================================================  =========
babble    bring every joint to its target angle; dense reward                  50
          ``-mean|angle error| / pi``
reach     bring the hand (end-effector) to a target point; dense ``-d / L``     50
track     follow a target moving on a circle; dense ``-d / L``                  100
sequence  visit K targets in order; sparse: +1 at each target, +1 more at the  150
          end, which terminates
draw      trace a closed polygon given as waypoints: ``-(distance from the     200
          current stroke) / L``, +1 at each waypoint, +1 more at the end,
          which terminates
========  ===================================================================  =========

``d`` is the distance from the hand to the current target and ``L`` the arm's length (the sum
of the link lengths, 1 by default). Every kind also pays ``torque_cost * mean(action^2)``.
A target counts as reached when ``d / L < tolerance`` (default 0.05). babble, reach and track
never terminate; they truncate at the step limit.

Body: link i has length ``l_i``; joint i turns link i relative to link i - 1 (joint 0 relative
to the x axis) at the base fixed at the origin. Each joint is a damped double integrator,
independent of the others (no inertial coupling, no gravity: an arm on a table)::

    I_i * q_i'' = tau_i - b_i * q_i' - k_i * q_i,     tau_i = max_torque_i * clip(a_i, -1, 1)

integrated with semi-implicit (symplectic) Euler at a fixed ``dt``: velocity first, then the
angle with the new velocity. With no torque and no damping the energy
``sum(I q'^2 + k q^2) / 2`` is conserved up to a bounded oscillation of order ``omega * dt``
(no drift). The stiffness ``k`` (default 0) is an optional spring toward angle 0. Velocities
are clipped to ``max_velocity``. Joint limits are hard stops: an angle that would leave
``[joint_low, joint_high]`` is held at the limit and its outward velocity is zeroed.

Actions: ``Box(-1, 1, (N,))``, normalised torques, clipped by the environment (a Gaussian
policy's samples beyond the bounds act as the bound; see ``bootstrap_rl.networks``).

Observation: one flat float32 vector of ``6 N + 14`` numbers, the same for every kind:

* body: ``sin q`` (N), ``cos q`` (N), ``q' * 0.25`` (N), hand position ``/ L`` (2);
* task: kind one-hot (5), current target ``/ L`` (2), current target minus hand ``/ L``
  (2), an auxiliary point ``/ L`` (2: track the target's velocity, sequence the target after
  the current one, draw the start of the current stroke), progress (1: the fraction of
  targets visited), joint targets as ``sin`` (N) and ``cos`` (N), and wrapped joint-angle
  errors ``/ pi`` (N). Fields a kind does not use are zero.

Tasks are data (:class:`EnvParams`): the kind, up to ``MAX_TARGETS`` points, joint targets,
the track's circle, tolerances, the step limit, and the body's physics (:class:`Physics`:
link lengths, inertia, damping, stiffness, torque and joint limits, ``dt``), so one compiled
``step`` serves every task and every body, and params vmap. :func:`task_distribution` builds a
stage's task distribution as a ``jax.tree_util.Partial`` of one module-level function whose
arguments are arrays (kind weights, ranges, physics): two stages with different weights are
the same pytree structure and share one compiled program. ``reset`` draws the arm's initial
pose; ``step`` is gymnax's own (auto-reset, ``info["final_observation"]``); ``info`` also
carries ``distance`` (to the current target ``/ L``; for babble the mean angle error ``/ pi``)
and ``success``.

Code: this module is the environment (observation, reward, reset) and the one place to import
every name from; ``_limbs_physics`` holds the body (physics, kinematics), ``_limbs_tasks`` the
vocabulary, :class:`EnvParams`, :class:`EnvState` and task construction, ``_limbs_distributions``
the task samplers, ``_limbs_render`` the render and ``_limbs_ik`` an IK controller for the tests.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from gymnax.environments import spaces

# The public names of the family live in the three modules below; they are imported here, so
# that ``bootstrap_rl.envs.limbs`` is the one place to import them from.
from bootstrap_rl.envs._limbs_distributions import (  # noqa: F401  (re-exported)
    COUNT_FIELDS, DEFAULT_COUNTS, DEFAULT_RANGES, RANGE_FIELDS, TASK_SAMPLERS, mixture_sampler, sample_task,
    sample_tasks, task_distribution,
)
from bootstrap_rl.envs._limbs_physics import (  # noqa: F401  (re-exported)
    DEFAULT_NUM_LINKS, JOINT_FIELDS, SCALAR_FIELDS, Physics, _segment_distance, energy, forward_kinematics,
    hand_position, integrate, make_physics, wrap_angle,
)
from bootstrap_rl.envs._limbs_tasks import (  # noqa: F401  (re-exported)
    BABBLE, DEFAULT_STEP_LIMITS, DRAW, ENV_IDS, MAX_TARGETS, NUM_KINDS, REACH, SEQUENCE, TASK_FIELDS, TASK_KINDS,
    TRACK, EnvParams, EnvState, _kind_index, current_target, describe_task, make_task, regular_polygon,
    track_target, validate_params,
)
from bootstrap_rl.family import TaskFamily, register_kinds, uniforms  # noqa: F401  (uniforms re-exported)

VELOCITY_SCALE = 0.25  # joint velocities are observed times this
TASK_VECTOR_EXTRA = NUM_KINDS + 2 + 2 + 2 + 1  # kind, target, target - hand, aux, progress


def observation_size(num_links: int = DEFAULT_NUM_LINKS) -> int:
    """Length of the flat observation vector for an arm of ``num_links`` links."""
    return 3 * num_links + 2 + TASK_VECTOR_EXTRA + 3 * num_links


class Limbs(TaskFamily[EnvState, EnvParams]):
    """The Limbs task family as one gymnax 1.x ``Environment``.

    Args:
        kind: the task kind of ``default_params`` (any kind runs given its params).
        num_links: links of the arm (static).
        default_task: explicit default params (validated); overrides ``kind``.
    """

    def __init__(self, kind: str = "reach", *, num_links: int = DEFAULT_NUM_LINKS,
                 default_task: EnvParams | None = None):
        super().__init__()
        if not isinstance(num_links, int) or num_links < 1:
            raise ValueError(f"num_links: must be a positive int, got {num_links!r}")
        self.num_links = num_links
        self.kind = TASK_KINDS[_kind_index(kind)]
        self._default = validate_params(default_task, num_links=num_links) if default_task is not None \
            else make_task(self.kind, num_links=num_links)
        if self._default.task_kind.shape != ():
            raise ValueError("default_task: must be a single (unbatched) task")

    # gymnax hashes `self` as a static jit argument: identity semantics are what we want.

    @property
    def default_params(self) -> EnvParams:
        return self._default

    @property
    def name(self) -> str:
        return ENV_IDS[self.kind]

    @property
    def num_actions(self) -> int:
        return self.num_links

    def action_space(self, params: EnvParams | None = None) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (self.num_links,), jnp.float32)

    def observation_space(self, params: EnvParams | None = None) -> spaces.Box:
        return spaces.Box(-jnp.inf, jnp.inf, (observation_size(self.num_links),), jnp.float32)

    @property
    def obs_size(self) -> int:
        return observation_size(self.num_links)

    # --- tasks (the curriculum protocol) ---

    def task_distribution(self, kinds, **kwargs) -> jax.tree_util.Partial:
        """A stage's task distribution from a kind, a list of kinds or a dict of weights
        (see the module-level :func:`task_distribution`), for this arm and its default body."""
        kwargs.setdefault("physics", self._default.physics)
        return task_distribution(kinds, num_links=self.num_links, **kwargs)

    def validate_params(self, params: EnvParams) -> EnvParams:
        """Raise ``ValueError`` naming the field if concrete params are not a valid task."""
        return validate_params(params, num_links=self.num_links)

    # --- observation ---

    def _observe(self, state: EnvState, params: EnvParams) -> jax.Array:
        f32 = jnp.float32
        ph = params.physics
        length = ph.arm_length
        hand = hand_position(state.angles, ph.link_lengths)
        target, aux = current_target(params, state.time, state.progress)
        kind = params.task_kind
        babble = kind == BABBLE
        error = wrap_angle(params.joint_targets - state.angles)
        progress = jnp.where((kind == SEQUENCE) | (kind == DRAW),
                             state.progress.astype(f32) / params.num_targets.astype(f32), 0.0)
        uses_point = ~babble
        return jnp.concatenate([
            jnp.sin(state.angles), jnp.cos(state.angles), VELOCITY_SCALE * state.velocities, hand / length,
            (jnp.arange(NUM_KINDS) == kind).astype(f32),
            target / length, jnp.where(uses_point, target - hand, 0.0) / length, aux / length,
            progress[None],
            jnp.where(babble, jnp.sin(params.joint_targets), 0.0),
            jnp.where(babble, jnp.cos(params.joint_targets), 0.0),
            jnp.where(babble, error / jnp.pi, 0.0),
        ]).astype(f32)

    def observe(self, key, state: EnvState, action, params: EnvParams) -> jax.Array:
        return self._observe(state, params)

    def get_obs(self, state: EnvState, params: EnvParams | None = None, key=None) -> jax.Array:
        return self._observe(state, self.default_params if params is None else params)

    # --- dynamics ---

    def _transition(self, state: EnvState, action: jax.Array, params: EnvParams):
        """One step without auto-reset: (next state, reward, terminated, info)."""
        f32 = jnp.float32
        ph = params.physics
        action = jnp.broadcast_to(jnp.asarray(action, f32), (self.num_links,))
        angles, velocities = integrate(state.angles, state.velocities, action, ph)
        time = state.time + 1
        kind = params.task_kind
        length = ph.arm_length
        hand = hand_position(angles, ph.link_lengths)

        # The target the step was aiming at (track's has moved on by one step).
        target, aux = current_target(params, time, state.progress)
        distance = jnp.linalg.norm(hand - target) / length
        angle_error = jnp.mean(jnp.abs(wrap_angle(params.joint_targets - angles))) / jnp.pi
        angle_ok = jnp.all(jnp.abs(wrap_angle(params.joint_targets - angles)) < params.angle_tolerance)
        stepping = (kind == SEQUENCE) | (kind == DRAW)
        reached = stepping & (distance < params.tolerance)
        progress = state.progress + reached.astype(jnp.int32)
        finished = stepping & (progress >= params.num_targets)
        stroke = _segment_distance(hand, aux, target) / length  # draw: aux is the stroke's start

        dense = jnp.where(kind == BABBLE, -angle_error,
                          jnp.where(kind == DRAW, -stroke, jnp.where(kind == SEQUENCE, 0.0, -distance)))
        reward = dense + reached.astype(f32) + finished.astype(f32) - ph.torque_cost * jnp.mean(jnp.square(jnp.clip(action, -1, 1)))
        success = jnp.where(kind == BABBLE, angle_ok, jnp.where(stepping, finished, distance < params.tolerance))
        info = {"distance": jnp.where(kind == BABBLE, angle_error, distance).astype(f32), "success": success}
        next_state = state.replace(time=time, angles=angles, velocities=velocities, progress=progress)
        return next_state, reward.astype(f32), finished, info

    def step_env(self, key, state: EnvState, action, params: EnvParams):
        next_state, reward, terminated, info = self._transition(state, action, params)
        return self._observe(next_state, params), next_state, reward, terminated, info

    def is_terminated(self, state: EnvState, params: EnvParams) -> jax.Array:
        return ((params.task_kind == SEQUENCE) | (params.task_kind == DRAW)) & (state.progress >= params.num_targets)

    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        ph = params.physics
        u = uniforms(key, self.num_links)
        middle = 0.5 * (ph.joint_low + ph.joint_high)
        angles = middle + ph.init_spread * (u - 0.5) * (ph.joint_high - ph.joint_low)
        state = EnvState(
            time=jnp.asarray(0, jnp.int32),
            angles=angles,
            velocities=jnp.zeros(self.num_links, jnp.float32),
            progress=jnp.asarray(0, jnp.int32),
        )
        return self._observe(state, params), state

    # --- rendering ---

    def render(self, state: EnvState, params: EnvParams | None = None, size: int = 192) -> jax.Array:
        """An RGB image (uint8 ``[size, size, 3]``) of a state; jittable (``size`` static).

        The arm (links, joints, the hand in red) over the disc it can reach; the task in
        green: babble's target pose as a ghost arm, reach's target, track's circle and
        target, sequence's targets (visited ones dim, the current one bright), draw's
        strokes (traced ones bright) and its current waypoint; tolerance rings around targets.
        """
        from bootstrap_rl.envs._limbs_render import render_state

        return render_state(self, state, self.default_params if params is None else params, size)

    def describe(self, params: EnvParams | None = None) -> str:
        """A caption for a task (concrete, unbatched params)."""
        return describe_task(self.default_params if params is None else params)



register_kinds(ENV_IDS, Limbs, origin=__name__)
