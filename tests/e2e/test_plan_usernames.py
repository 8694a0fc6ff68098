"""With keys, plan decrypts the RTS FTP usernames (while the TMS is read) and compares them."""

from __future__ import annotations

from rtssync.model import FtpCredentials, Secret
from tests.e2e.harness import World


def test_a_username_changed_in_the_tms_under_the_same_revision_is_drift_with_keys_only(
    world: World,
) -> None:
    applied = world.rtssync("apply", "--yes", keys=True)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    live = world.live_by_name("Subsidiary 2 LLC")
    assert live.rts_ftp is not None
    with world.store() as store:  # the revision kept: only a username comparison can tell
        store.put_rts_ftp(live.tms_id, live.rts_ftp.settings,
                          credentials=FtpCredentials("someone-else", Secret("x-Pa55word")),
                          credentials_revision=live.rts_ftp.credentials_revision,
                          if_match=live.etag)

    with_keys = world.rtssync("plan", "--detailed-exitcode", keys=True)
    assert with_keys.returncode == 2, with_keys.stdout + with_keys.stderr
    assert "the RTS FTP username in the TMS differs from git" in with_keys.stdout
    assert "someone-else" not in with_keys.stdout
    keyless = world.rtssync("plan", "--detailed-exitcode")
    assert keyless.returncode == 0, keyless.stdout + keyless.stderr
