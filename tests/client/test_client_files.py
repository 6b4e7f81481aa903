"""Pure pieces of the CLI: settings, AWS files, shell rendering, the token file."""

import os
import subprocess
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from stsd.client.awsfiles import AwsFilesError, load_aws_files
from stsd.client.paths import Paths, UnsafeRuntimeDir, ensure_private_dir
from stsd.client.settings import Settings, SettingsError, load_settings, parse_listen
from stsd.client.shells import render
from stsd.client.tokens import ensure_token, read_token, write_token


def test_missing_settings_file_means_defaults(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "none.toml") == Settings()


def test_settings_are_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('listen = "127.0.0.1:0"\n[refresh]\nfloor_seconds = 600\n')
    settings = load_settings(path)
    assert settings.listen == "127.0.0.1:0"
    assert settings.floor == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("listen = ", "not valid TOML"),
        ('listn = "127.0.0.1:1"', "unknown setting listn"),
        ("[refresh]\nfloor_seconds = 4000", "refresh.floor_seconds must be a whole number"),
        ("[refresh]\nfloor_seconds = 1900", "hard_floor_seconds < floor_seconds < trigger"),
        ('listen = "10.0.0.1:9925"', "not a loopback IP"),
        ("session_duration_seconds = true", "session_duration_seconds"),
        ("[exec]\nlease_seconds = 0", "exec.lease_seconds must be a whole number of seconds"),
        ("[endpoint]\nmax_connections = 1", "max_connections must be a whole number from 4"),
    ],
)
def test_broken_settings_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=message) as caught:
        load_settings(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("value", ["127.0.0.1:9925", "[::1]:0", "127.0.0.2:1"])
def test_listen_accepts_loopback(value: str) -> None:
    parse_listen(value)


@pytest.mark.parametrize("value", ["0.0.0.0:9925", "localhost:9925", "127.0.0.1", "::1:x"])
def test_listen_refuses_everything_else(value: str) -> None:
    with pytest.raises(ValueError, match="listen address"):
        parse_listen(value)


def _aws(tmp_path: Path, config: str, credentials: str = "") -> dict[str, str]:
    (tmp_path / "config").write_text(config)
    (tmp_path / "credentials").write_text(credentials)
    return {
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "HOME": str(tmp_path),
    }


def test_aws_files_follow_botocore_section_names(tmp_path: Path) -> None:
    """`[profile x]` and `[default]` in config; plain names elsewhere are not profiles."""
    env = _aws(
        tmp_path,
        "[default]\nregion = a\n[profile ro]\nrole_arn = r\nsource_profile = b\n[sso-session s]\n"
        "[notaprofile]\nrole_arn = x\n",
        "[b]\naws_access_key_id = K\n",
    )
    files = load_aws_files(env)
    assert files.role_profiles() == ["ro"]
    assert files.profile("b") == {"aws_access_key_id": "K"}
    assert files.region("ro") is None


def test_region_falls_back_along_the_source_chain(tmp_path: Path) -> None:
    env = _aws(tmp_path, "[profile b]\nregion = eu-west-1\n[profile ro]\nsource_profile = b\n")
    assert load_aws_files(env).region("ro") == "eu-west-1"


def test_tilde_in_aws_config_file_is_expanded(tmp_path: Path) -> None:
    (tmp_path / "c").write_text("[profile x]\nrole_arn = r\n")
    files = load_aws_files({"HOME": str(tmp_path), "AWS_CONFIG_FILE": "~/c"})
    assert files.role_profiles() == ["x"]


def test_malformed_aws_file_names_the_file(tmp_path: Path) -> None:
    env = _aws(tmp_path, "[profile x\n")
    with pytest.raises(AwsFilesError, match="config: not a valid INI file"):
        load_aws_files(env)


def test_default_keys_are_detected(tmp_path: Path) -> None:
    env = _aws(tmp_path, "", "[default]\naws_access_key_id = K\naws_secret_access_key = S\n")
    assert load_aws_files(env).default_keys_in_credentials_file()


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_rendered_lines_survive_hostile_values(shell: str, tmp_path: Path) -> None:
    """Values with quotes, spaces and `$` come back verbatim from the real shell."""
    import shutil

    if shutil.which(shell) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{shell} is missing on CI: scripts/setup installs it")
        pytest.skip(f"{shell} is not installed here (scripts/setup installs it)")
    value = 'it\'s a "$HOME" \\ `x`'
    lines = render(shell, {"STSD_T": value}, ["STSD_GONE"])
    script = f'{lines}\nprintf "%s|%s" "$STSD_T" "${{STSD_GONE:-unset}}"'
    if shell == "fish":
        script = (
            f'{lines}\nprintf "%s|%s" "$STSD_T" (set -q STSD_GONE; and echo set; or echo unset)'
        )
    out = subprocess.run(
        [shell, "-c", script],
        env={"PATH": os.environ["PATH"], "STSD_GONE": "x", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == f"{value}|unset"


def test_token_file_is_private_and_has_no_newline(tmp_path: Path) -> None:
    token = ensure_token(tmp_path / "token")
    assert (tmp_path / "token").read_text() == token
    assert (tmp_path / "token").stat().st_mode & 0o777 == 0o600
    assert ensure_token(tmp_path / "token") == token  # stable


def test_concurrent_creators_agree_on_one_token(tmp_path: Path) -> None:
    """Daemon and `stsd env` may race to create it: first writer wins, all see it."""
    seen: list[str] = []
    threads = [
        threading.Thread(target=lambda: seen.append(ensure_token(tmp_path / "token")))
        for _ in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 1
    assert not [p for p in tmp_path.iterdir() if p.name != "token"]  # no temp files left


def test_broken_token_file_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("abc\n")
    assert read_token(tmp_path / "token") is None
    token = ensure_token(tmp_path / "token")
    assert token != "abc\n" and read_token(tmp_path / "token") == token
    write_token(tmp_path / "token", "new")
    assert read_token(tmp_path / "token") == "new"


def test_runtime_dir_falls_back_to_a_per_user_temp_dir(tmp_path: Path) -> None:
    paths = Paths.from_env({"HOME": str(tmp_path), "TMPDIR": str(tmp_path)})
    assert paths.runtime_dir == tmp_path / f"stsd-{os.getuid()}"


def test_runtime_dir_open_to_others_is_refused(tmp_path: Path) -> None:
    loose = tmp_path / "run"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    with pytest.raises(UnsafeRuntimeDir, match="chmod 700"):
        ensure_private_dir(loose)
    link = tmp_path / "link"
    link.symlink_to(loose)
    with pytest.raises(UnsafeRuntimeDir, match="symlink"):
        ensure_private_dir(link)


def test_long_socket_paths_are_reported(tmp_path: Path) -> None:
    paths = Paths.from_env({"HOME": "/h", "XDG_RUNTIME_DIR": "/" + "x" * 100})
    assert paths.socket_path_problem() is not None
    assert Paths.from_env({"HOME": "/h", "XDG_RUNTIME_DIR": "/run"}).socket_path_problem() is None
