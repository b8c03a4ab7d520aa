"""The built-in English->French corpus from Debian software-localisation catalogs.

Real human translations: the French gettext catalogs (``*/fr/LC_MESSAGES/*.mo``) of a
pinned list of Debian bookworm packages, fetched with ``apt-get download`` and unpacked
with ``dpkg-deb -x`` (no root, nothing installed). Cleaned by ``cleaning.clean_pairs``
and split by source package, so test packages never appear in training.

    python -m tasks.translation.corpus --output data/debian_en_fr

Resumable (downloaded .debs and unpacked trees are cached under ``OUTPUT/cache``),
shows progress, and writes ``{train,val,test}.tsv`` (source, target, package) plus
``manifest.json`` (package versions, per-rule cleaning counts, statistics, SHA-256 of
each split). ``read_tsv_pairs`` loads the splits.
"""

import argparse
import collections
import glob
import hashlib
import json
import os
import random

from tasks.core.debian import fetch_package
from tasks.core.manifest import reusable_manifest, write_manifest
from tasks.translation.cleaning import clean_pairs, is_sentence
from tasks.translation.data import read_gettext

# (package, version) in Debian 12 "bookworm"; the version is part of the corpus definition.
PINNED_PACKAGES = (
    ("adduser", "3.134"),
    ("appstream", "0.16.1-2+b1"),
    ("apt", "2.6.2"),
    ("at-spi2-common", "2.46.0-5"),
    ("bash", "5.2.15-2+b13"),
    ("binutils-common", "2.40-2"),
    ("coreutils", "9.1-1"),
    ("diffutils", "1:3.8-4"),
    ("dpkg", "1.21.23"),
    ("findutils", "4.9.0-4"),
    ("gettext", "0.21-12"),
    ("gettext-base", "0.21-12"),
    ("git", "1:2.39.5-0+deb12u3"),
    ("gnupg-l10n", "2.2.40-1.1+deb12u2"),
    ("grep", "3.8-5"),
    ("gsettings-desktop-schemas", "43.0-1"),
    ("iso-codes", "4.15.0-1"),
    ("libapt-pkg6.0", "2.6.2"),
    ("libc-l10n", "2.36-9+deb12u14"),
    ("libdpkg-perl", "1.21.23"),
    ("libglib2.0-data", "2.74.6-2+deb12u9"),
    ("libgnutls30", "3.7.9-2+deb12u7"),
    ("libgstreamer1.0-0", "1.22.0-2+deb12u1"),
    ("libgtk2.0-common", "2.24.33-2+deb12u1"),
    ("libidn2-0", "2.3.3-1+b1"),
    ("libpam-runtime", "1.5.2-6+deb12u2"),
    ("login", "1:4.13+dfsg1-1+deb12u2"),
    ("make", "4.3-4.1"),
    ("man-db", "2.11.2-2"),
    ("net-tools", "2.10-0.1+deb12u2"),
    ("packagekit", "1.2.6-5+deb12u1"),
    ("postgresql-client-15", "15.20-0+deb12u1"),
    ("procps", "2:4.0.2-3"),
    ("psmisc", "23.6-1"),
    ("sed", "4.9-1+deb12u1"),
    ("shared-mime-info", "2.2-1"),
    ("systemd", "252.39-1~deb12u2"),
    ("tar", "1.34+dfsg-1.2+deb12u1"),
    ("wget", "1.21.3-1+deb12u1"),
    ("xdg-user-dirs", "0.18-1"),
    ("xkb-data", "2.35.1-1"),
    ("xz-utils", "5.4.1-1+deb12u2"),
    ("gcc-12-locales", "12.2.0-14+deb12u1"),
    ("libreoffice-l10n-fr", "4:7.4.7-1+deb12u14"),
    ("libgtk-3-common", "3.24.38-2~deb12u3"),
    ("util-linux-locales", "2.38.1-5+deb12u3"),
    ("e2fsprogs", "1.47.0-2+b2"),
    ("nano", "7.2-1+deb12u1"),
    ("parted", "3.5-3+deb12u1"),
    ("gdb", "13.1-3"),
    ("sudo", "1.9.13p3-1+deb12u4"),
    ("cpio", "2.13+dfsg-7.1"),
    ("aspell", "0.60.8-4+b1"),
    ("debconf-i18n", "1.5.82"),
    # Version 2: 76 more packages, all in train: GNU and system command-line tools (the
    # held-out packages' domain) and desktop applications.
    ("bison", "2:3.8.2+dfsg-1+b1"),
    ("flex", "2.6.4-8.2"),
    ("m4", "1.4.19-3"),
    ("gawk", "1:5.2.1-2"),
    ("texinfo", "6.8-6+b1"),
    ("wdiff", "1.2.2-5"),
    ("sharutils", "1:4.15.2-9"),
    ("recode", "3.6-25"),
    ("indent", "2.2.12-4+deb12u3"),
    ("enscript", "1.6.5.90-3+b1"),
    ("a2ps", "1:4.14-8"),
    ("mailutils-common", "1:3.15-4"),
    ("mutt", "2.2.12-0.1~deb12u2"),
    ("lynx-common", "2.9.0dev.12-1"),
    ("mc-data", "3:4.8.29-2"),
    ("subversion", "1.14.2-4+deb12u1"),
    ("mercurial-common", "6.3.2-1+deb12u1"),
    ("grub-common", "2.06-13+deb12u2"),
    ("kbd", "2.5.1-1+b1"),
    ("quota", "4.06-1+b2"),
    ("sysstat", "12.6.1-1"),
    ("libnewt0.52", "0.52.23-1+b1"),
    ("dialog", "1.3-20230209-1"),
    ("cryptsetup-bin", "2:2.6.1-4~deb12u2"),
    ("gdbm-l10n", "1.23-3"),
    ("libgpg-error-l10n", "1.46-1"),
    ("aptitude-common", "0.8.13-5"),
    ("synaptic", "0.91.3"),
    ("tasksel-data", "3.73"),
    ("apt-listchanges", "3.24"),
    ("po4a", "0.69-1"),
    ("alsa-utils", "1.2.8-1"),
    ("pulseaudio", "16.1+dfsg1-2+b1"),
    ("network-manager", "1.42.4-1+deb12u1"),
    ("modemmanager", "1.20.4-1"),
    ("udisks2", "2.9.4-4+deb12u2"),
    ("fwupd", "2.0.20-1~deb12u2"),
    ("flatpak", "1.14.10-1~deb12u2"),
    ("firewalld", "1.3.3-1~deb12u2"),
    ("dnsmasq-base", "2.90-4~deb12u2"),
    ("libvirt-l10n", "9.0.0-4+deb12u2"),
    ("accountsservice", "22.08.8-6"),
    ("libpwquality-common", "1.4.5-1"),
    ("vim-runtime", "2:9.0.1378-2+deb12u2"),
    ("r-base-core", "4.2.2.20221110-2"),
    ("gimp-data", "2.10.34-1+deb12u10"),
    ("inkscape", "1.2.2-2+deb12u1"),
    ("vlc-l10n", "3.0.24-0+deb12u1"),
    ("nautilus-data", "43.2-1"),
    ("gnome-control-center-data", "1:43.6-2~deb12u1"),
    ("evolution-common", "3.46.4-2+deb12u1"),
    ("xfce4-settings", "4.18.2-1"),
    ("xfce4-panel", "4.18.2-1"),
    ("thunar-data", "4.18.4-1"),
    ("mousepad", "0.5.10-2"),
    ("pidgin-data", "2.14.12-1"),
    ("claws-mail-i18n", "4.1.1-2"),
    ("filezilla-common", "3.63.0-1+deb12u3"),
    ("audacity-data", "3.2.4+dfsg-1"),
    ("gnome-software-common", "43.5-1~deb12u2"),
    ("gnome-shell-common", "43.9-0+deb12u2"),
    ("libgtk-4-common", "4.8.3+ds-2+deb12u1"),
    ("network-manager-gnome", "1.30.0-2"),
    ("system-config-printer-common", "1.5.18-1"),
    ("xsane-common", "0.999-12.1~deb12u1"),
    ("libsane-common", "1.2.1-2"),
    ("libgphoto2-l10n", "2.5.30-1"),
    ("gstreamer1.0-plugins-good", "1.22.0-5+deb12u4"),
    ("file-roller", "43.0-1"),
    ("totem-common", "43.0-2"),
    ("rhythmbox-data", "3.4.6-2"),
    ("gedit-common", "44.2-1"),
    ("konsole", "4:22.12.3-1+deb12u1"),
    ("digikam-data", "4:7.9.0-1"),
    ("kdenlive-data", "22.12.3-2+deb12u2"),
    ("remmina-common", "1.4.29+dfsg-1"),
)
TEST_PACKAGES = ("wget", "nano", "parted", "gdb", "psmisc", "cpio")
VAL_PACKAGES = ("tar", "make", "sudo")
VERSION = 2
# each version's packages: version 1 is the first 54 (what the bundled translator's first
# training stage saw); version 2 added 76, all in train, so val and test are the same
VERSIONS = {1: PINNED_PACKAGES[:54], 2: PINNED_PACKAGES}


def french_catalogs(tree):
    patterns = ("**/fr/LC_MESSAGES/*.mo", "**/fr_FR/LC_MESSAGES/*.mo")
    return sorted({p for pat in patterns for p in glob.glob(os.path.join(tree, pat), recursive=True)})


def split_of(package):
    return "test" if package in TEST_PACKAGES else "val" if package in VAL_PACKAGES else "train"


def statistics(splits, seed=0):
    stats = {}
    for name, pairs in splits.items():
        src_vocab = {w.lower() for p in pairs for w in p["source"].split()}
        tgt_vocab = {w.lower() for p in pairs for w in p["target"].split()}
        lengths = collections.Counter(min(len(p["source"].split()) // 5 * 5, 40) for p in pairs)
        stats[name] = {
            "pairs": len(pairs), "sentences": sum(is_sentence(p["source"]) for p in pairs),
            "labels": sum(not is_sentence(p["source"]) for p in pairs),
            "source_vocabulary": len(src_vocab), "target_vocabulary": len(tgt_vocab),
            "source_words_histogram": {f"{k}-{k + 4}" if k < 40 else "40+": v
                                       for k, v in sorted(lengths.items())},
        }
    per_package = collections.Counter(p["package"] for pairs in splits.values() for p in pairs)
    stats["largest_packages"] = per_package.most_common(20)
    rng = random.Random(seed)
    test = splits.get("test", [])
    stats["test_sample"] = [[p["source"], p["target"]] for p in rng.sample(test, min(20, len(test)))]
    return stats


def build_corpus(root, packages=None, allow_other_version=False, progress=True, version=VERSION):
    """Build (or reuse) the corpus under ``root``; returns the manifest dict.

    ``version``: which of :data:`VERSIONS` to build (the newest by default); ``packages``
    overrides its package list.

    Example:
        >>> build_corpus("data/translation_fr")["statistics"]["train"]["pairs"]
        178752
    """
    from tqdm.auto import tqdm

    if version not in VERSIONS:
        raise ValueError(f"version must be one of {sorted(VERSIONS)}, got {version!r}")
    packages = VERSIONS[version] if packages is None else packages
    wanted = {"version": version, "packages": [list(p) for p in packages],
              "test_packages": list(TEST_PACKAGES), "val_packages": list(VAL_PACKAGES)}
    done = reusable_manifest(root, wanted)
    if done is not None:
        return done
    cache = os.path.join(root, "cache")
    by_split = {"train": [], "val": [], "test": []}
    reports, versions = {}, {}
    for name, version in tqdm(packages, desc="packages", disable=not progress):
        tree, versions[name] = fetch_package(name, version, cache, allow_other_version)
        entries = []
        for path in french_catalogs(tree):
            for e in read_gettext(path):
                entries.append({**e, "package": name})
        pairs, report = clean_pairs(entries)
        reports[name] = report
        by_split[split_of(name)].extend(pairs)
    # A message shared by several packages stays only in the most held-out split.
    seen = set()
    removed = collections.Counter()
    for split in ("test", "val", "train"):
        kept = []
        for p in by_split[split]:
            key = (p["source"], p["target"])
            if key in seen:
                removed[split] += 1
                continue
            seen.add(key)
            kept.append(p)
        by_split[split] = kept
    held_sources = {p["source"] for s in ("test", "val") for p in by_split[s]}
    train = [p for p in by_split["train"] if p["source"] not in held_sources]
    removed["train_source_in_held_out"] = len(by_split["train"]) - len(train)
    by_split["train"] = train
    os.makedirs(root, exist_ok=True)
    checksums = {}
    for split, pairs in by_split.items():
        text = "".join(f"{p['source']}\t{p['target']}\t{p['package']}\n" for p in pairs)
        path = os.path.join(root, f"{split}.tsv")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
        checksums[split] = hashlib.sha256(text.encode()).hexdigest()
    total = collections.Counter()
    for report in reports.values():
        total.update(report)
    return write_manifest(root, dict(wanted, versions_used=versions, sha256=checksums,
                                     cleaning=dict(total), cleaning_per_package=reports,
                                     cross_split_removed=dict(removed),
                                     statistics=statistics(by_split)))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Build the Debian English->French corpus")
    parser.add_argument("--output", required=True)
    parser.add_argument("--allow-other-version", action="store_true")
    parser.add_argument("--version", type=int, default=VERSION, choices=sorted(VERSIONS),
                        help="corpus version (1: the 54 packages of the first release)")
    args = parser.parse_args(argv)
    manifest = build_corpus(args.output, allow_other_version=args.allow_other_version,
                            version=args.version)
    print(json.dumps({k: manifest["statistics"][k] for k in ("train", "val", "test")}, indent=1))


if __name__ == "__main__":
    main()
