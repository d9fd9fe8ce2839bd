"""Races on the real PostgreSQL, with threads each applying its batch in its own transaction."""
import threading

from footfall.ids import identified_user_id
from tests.identity.factories import ENV, commands, event, events, identify
from tests.identity.state import apply_batch, db_users, model_users


def race(engine, batches):
    """Apply each batch from its own thread, all released at once; re-raise any thread's error."""
    barrier = threading.Barrier(len(batches))
    errors = []

    def run(batch):
        try:
            barrier.wait()
            apply_batch(engine, batch)
        except Exception as exc:  # noqa: BLE001 - surfaced below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def test_devices_identifying_as_one_new_identity_at_once_end_as_one_user(engine):
    for round_ in range(5):
        identity = f"new-{round_}"
        batches = [
            [events(event(f"r{round_}-d{i}", f"r{round_}-d{i}", i)),
             commands(identify(f"r{round_}-c{i}", f"r{round_}-d{i}", identity, 10 + i))]
            for i in range(6)
        ]
        race(engine, batches)
        users = db_users(engine, ENV)
        owner = identified_user_id(ENV, identity)
        assert users[owner][4] == model_users([m for b in batches for m in b], ENV)[owner][4]
        assert len(users[owner][4]) == 7  # the identity's own id and the six devices' ids
    assert db_users(engine, ENV) == model_users(
        [m for r in range(5) for i in range(6) for m in (
            events(event(f"r{r}-d{i}", f"r{r}-d{i}", i)),
            commands(identify(f"r{r}-c{i}", f"r{r}-d{i}", f"new-{r}", 10 + i)))], ENV)


def test_a_merge_racing_with_new_events_loses_none_of_them(engine):
    everything = []
    for round_ in range(5):
        device = f"m{round_}"
        merge = [commands(identify(f"m{round_}-c", device, "ada", 1)),
                 events(event(f"m{round_}-ada", "ada-laptop", 0, identity="ada"))]
        news = [[events(event(f"m{round_}-e{i}", device, 2 + i + round_ * 10))] for i in range(5)]
        race(engine, [merge, *news])
        everything += merge + [m for batch in news for m in batch]
        assert db_users(engine, ENV) == model_users(everything, ENV)
    ada = db_users(engine, ENV)[identified_user_id(ENV, "ada")]
    assert ada[2] == max(m.events[0].time for m in everything if hasattr(m, "events"))
