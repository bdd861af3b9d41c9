"""The lead process: a daily Markov chain per buyer whose rates follow latent fit, budget and intent.

States: L (lead), C (cooling off after a lost deal), S1-S3 (open deal in stage 1-3), W (won).
Rates are daily hazards h; a day's move probability is 1 - exp(-sum of hazards) shared among the
competing moves. Intent is a deterministic curve of time given the latent traits, so the chain is
Markov given them and the probability of a win within 90 days is computed exactly by pushing the
state distribution through the next 90 daily transition matrices (`p_win_within`). The simulation
uses the very same matrices (`transition_matrices`), so realized labels and probabilities agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

L, C, S1, S2, S3, W = range(6)
N_STATES = 6
HORIZON = 90

# Daily log-hazards: intercept and coefficients on (fit, budget, intent). Chosen so that 90-day
# conversion among leads lands in the single digits to low teens and deals take 1-3 months.
OPEN = (-5.2, 0.45, 0.25, 1.5)
ADVANCE = {S1: (-3.4, 0.3, 0.0, 0.3), S2: (-3.5, 0.0, 0.35, 0.3), S3: (-3.0, 0.3, 0.3, 0.3)}
LOSE = {S1: (-3.0, -0.4, 0.0, -0.2), S2: (-3.1, 0.0, -0.3, -0.2), S3: (-2.9, -0.3, 0.0, -0.2)}
COOL_OFF_DAYS = 45
COOLING_PER_YEAR = 0.25  # leads go colder as they age


@dataclass
class LeadLatent:
    fit: np.ndarray
    budget: np.ndarray
    intent: np.ndarray  # (n, days + HORIZON + 1): the deterministic intent curve

    def take(self, idx: np.ndarray) -> LeadLatent:
        return LeadLatent(self.fit[idx], self.budget[idx], self.intent[idx])


def intent_curves(base: np.ndarray, window_day: np.ndarray, amp: np.ndarray, width: np.ndarray,
                  created_day: np.ndarray, n_days: int) -> np.ndarray:
    t = np.arange(n_days)[None, :]
    bump = amp[:, None] * np.exp(-0.5 * ((t - window_day[:, None]) / width[:, None]) ** 2)
    age = np.clip((t - created_day[:, None]) / 365.0, 0, 1)
    return base[:, None] + bump - COOLING_PER_YEAR * age


def _h(coef: tuple[float, float, float, float], fit, budget, intent) -> np.ndarray:
    a, bf, bb, bi = coef
    return np.exp(a + bf * fit + bb * budget + bi * intent)


def transition_matrices(fit: np.ndarray, budget: np.ndarray, intent: np.ndarray) -> np.ndarray:
    """(n, 6, 6) one-day transition matrices for buyers with these traits and today's intent."""
    n = len(fit)
    p = np.zeros((n, N_STATES, N_STATES))
    p_open = 1 - np.exp(-_h(OPEN, fit, budget, intent))
    p[:, L, S1], p[:, L, L] = p_open, 1 - p_open
    p_back = 1 - np.exp(-1 / COOL_OFF_DAYS)
    p[:, C, L], p[:, C, C] = p_back, 1 - p_back
    for s in (S1, S2, S3):
        adv, lose = _h(ADVANCE[s], fit, budget, intent), _h(LOSE[s], fit, budget, intent)
        move = 1 - np.exp(-(adv + lose))
        p[:, s, s + 1] = move * adv / (adv + lose)
        p[:, s, C] = move * lose / (adv + lose)
        p[:, s, s] = 1 - move
    p[:, W, W] = 1.0
    return p


def simulate(rng: np.random.Generator, lat: LeadLatent, created_day: np.ndarray, days: int) -> np.ndarray:
    """State of every buyer at the end of every day, (n, days) int8; -1 before the buyer exists."""
    n = len(created_day)
    state = np.zeros(n, dtype=np.int64)
    out = np.full((n, days), -1, dtype=np.int8)
    for d in range(days):
        moving = np.flatnonzero((created_day < d) & (state != W))
        if len(moving):
            p = transition_matrices(lat.fit[moving], lat.budget[moving], lat.intent[moving, d])
            rows = p[np.arange(len(moving)), state[moving]].cumsum(1)
            state[moving] = (rng.random(len(moving))[:, None] > rows[:, :-1]).sum(1)
        alive = created_day <= d
        out[alive, d] = state[alive]
    return out


def p_win_within(lat: LeadLatent, rows: np.ndarray, as_of: np.ndarray, state: np.ndarray,
                 horizon: int = HORIZON) -> np.ndarray:
    """Exact P(state W by the end of day as_of + horizon | state at the end of day as_of).

    One row per (buyer `rows[k]`, day `as_of[k]`); all rows advance together, day by day.
    """
    dist = np.zeros((len(rows), N_STATES))
    dist[np.arange(len(rows)), state] = 1.0
    for step in range(1, horizon + 1):
        day = as_of + step
        p = transition_matrices(lat.fit[rows], lat.budget[rows], lat.intent[rows, day])
        dist = np.einsum("ij,ijk->ik", dist, p)
    return dist[:, W]
