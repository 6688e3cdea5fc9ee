"""MiniGrid's task kinds and env ids, importable without JAX or xminigrid (curricula name the
family's ids; importing a curriculum must stay cheap). ``envs/minigrid.py`` is the family."""

# kind -> env id (XLand-MiniGrid's own ids); the order is the kind index.
ENV_IDS: dict[str, str] = {
    "empty": "MiniGrid-Empty-6x6",
    "empty_random": "MiniGrid-EmptyRandom-6x6",
    "doorkey_5x5": "MiniGrid-DoorKey-5x5",
    "doorkey": "MiniGrid-DoorKey-6x6",
    "unlock": "MiniGrid-Unlock",
    "unlockpickup": "MiniGrid-UnlockPickUp",
    "blockedunlockpickup": "MiniGrid-BlockedUnlockPickUp",
}
