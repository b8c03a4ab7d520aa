"""setup.cfg's package_data ships every bundled weight file: an installed (non-editable)
package must hold what the presets load."""

import configparser
import fnmatch
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_file_under_a_weights_folder_is_package_data():
    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, "setup.cfg"))
    missing = []
    for package, patterns in config["options.package_data"].items():
        folder = os.path.join(ROOT, *package.split("."))
        globs = [p.strip() for p in patterns.replace("\n", ",").split(",") if p.strip()]
        weights = os.path.join(folder, "weights")
        for dirpath, _, files in os.walk(weights):
            for name in files:
                relative = os.path.relpath(os.path.join(dirpath, name), folder).replace(os.sep, "/")
                # setuptools' globs: "*" stays within one folder, as fnmatch's does not,
                # so compare folder depth too
                if not any(fnmatch.fnmatch(relative, g) and relative.count("/") == g.count("/")
                           for g in globs):
                    missing.append(f"{package}: {relative}")
    assert not missing, missing
