"""Table-driven: which worker the load balancer picks, and which it never picks."""

import pytest

from control_plane.fleet.scoring import WorkerLoad, ineligibility, rank


def load(worker_id, **overrides):
    values = {"status": "online", "capacity": 10, "assigned": 0}
    values.update(overrides)
    return WorkerLoad(worker_id=worker_id, **values)


@pytest.mark.parametrize(
    ("case", "workers", "expected"),
    [
        ("more free room wins", [load("a", assigned=8), load("b", assigned=2)], "b"),
        (
            "free ratio, not free count",
            [load("a", capacity=50, assigned=40), load("b", capacity=10, assigned=2)],
            "b",
        ),
        ("lower cpu breaks a tie", [load("a", cpu_percent=90), load("b", cpu_percent=10)], "b"),
        ("lower memory breaks a tie", [load("a", memory_percent=85), load("b", memory_percent=20)], "b"),
        ("fewer sessions starting", [load("a", starting=5), load("b", starting=0)], "b"),
        ("recent failures cost", [load("a", recent_failures=4), load("b")], "b"),
        ("equal scores: stable by id", [load("b"), load("a")], "a"),
        (
            "room beats a small cpu edge",
            [load("a", assigned=9, cpu_percent=0), load("b", assigned=1, cpu_percent=30)],
            "b",
        ),
        ("a busy worker is still chosen over none", [load("a", assigned=9, cpu_percent=95)], "a"),
    ],
)
def test_rank_picks_the_expected_worker(case, workers, expected):
    assert rank(workers)[0].worker_id == expected, case


@pytest.mark.parametrize(
    ("case", "worker", "why"),
    [
        ("draining", load("a", status="draining"), "status is draining"),
        ("unhealthy", load("a", status="unhealthy"), "status is unhealthy"),
        ("offline", load("a", status="offline"), "status is offline"),
        ("full", load("a", capacity=3, assigned=3), "full"),
        ("over full", load("a", capacity=3, assigned=5), "full"),
        ("zero capacity", load("a", capacity=0), "full"),
        ("stale heartbeat", load("a", heartbeat_fresh=False), "heartbeat is stale"),
    ],
)
def test_never_picks_an_ineligible_worker(case, worker, why):
    assert ineligibility(worker) == why, case
    assert rank([worker]) == [], case


def test_rank_lists_only_eligible_workers_best_first():
    workers = [
        load("full", capacity=1, assigned=1),
        load("busy", assigned=7),
        load("idle"),
        load("draining", status="draining"),
    ]
    assert [w.worker_id for w in rank(workers)] == ["idle", "busy"]
