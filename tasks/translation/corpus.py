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
    # Version 3: 193 more, all in train: more command-line and system tools (partitioning,
    # package managers, mail, networking, virtualisation) and the MATE, Xfce, GNOME and KDE
    # desktops' own catalogs and applications (developer tools among them).
    ("acl", "2.3.1-3"),
    ("attr", "1:2.5.1-4"),
    ("datamash", "1.7-2"),
    ("dar", "2.7.8-2+b9"),
    ("direvent", "5.2-1+b2"),
    ("dctrl-tools", "2.24-3+b1"),
    ("pv", "1.6.20-1"),
    ("rhash", "1.4.3-3"),
    ("gcal-common", "4.1-3.1"),
    ("lftp", "4.9.2-2+b1"),
    ("aria2", "1.36.0-1"),
    ("whois", "5.5.17"),
    ("weechat-core", "3.8-1"),
    ("neomutt", "20220429+dfsg1-4.1"),
    ("msmtp", "1.8.23-1"),
    ("mpop", "1.4.18-1"),
    ("lshw", "02.19.git.2021.06.19.996aaad9c7-2+b1"),
    ("policycoreutils", "3.4-1"),
    ("apparmor", "3.0.8-3"),
    ("apparmor-utils", "3.0.8-3"),
    ("apt-utils", "2.6.2"),
    ("apt-listbugs", "0.1.40"),
    ("dselect", "1.21.23"),
    ("debfoster", "2.7-2.1+b2"),
    ("deborphan", "1.7.35"),
    ("unattended-upgrades", "2.9.1+nmu3"),
    ("command-not-found", "23.04.0-1"),
    ("cpufrequtils", "008-2"),
    ("linux-cpupower", "6.1.192-3"),
    ("brltty", "6.5-7+deb12u1"),
    ("schroot-common", "1.6.13-3"),
    ("hello", "2.10-3"),
    ("id-utils", "4.6.28-20200521ss15dab+b1"),
    ("help2man", "1.49.3"),
    ("gsasl-common", "2.2.0-1+deb12u2"),
    ("gnucobol3", "3.1.2-5+b1"),
    ("cflow-l10n", "1:1.7-4"),
    ("rpm-i18n", "4.18.0+dfsg-1+deb12u1"),
    ("dico", "2.11-2+b3"),
    ("dos2unix", "7.4.3-1"),
    ("hunspell", "1.7.1-1"),
    ("fish-common", "3.6.0-3.1+deb12u1"),
    ("rush", "2.3-1"),
    ("quilt", "0.67+really0.66-1"),
    ("elinks-data", "0.13.2-1"),
    ("mailfromd", "8.15-2"),
    ("proftpd-core", "1.3.8+dfsg-4+deb12u5"),
    ("newsboat", "2.21-1.5"),
    ("calcurse", "4.7.1-1"),
    ("sdcv", "0.5.2-2+b1"),
    ("systemtap-common", "4.8-2"),
    ("libpopt0", "1.19+dfsg-1"),
    ("libuser", "1:0.64~dfsg-1"),
    ("shishi-common", "1.0.3-1"),
    ("libextractor3", "1:1.11-7"),
    ("libgss3", "1.0.4-1+deb12u2"),
    ("openconnect", "9.01-3"),
    ("pppconfig", "2.3.27"),
    ("monitoring-plugins-basic", "2.3.3-5+deb12u2"),
    ("zypper-common", "1.14.42-2"),
    ("libzypp-common", "17.25.7-2.4"),
    ("dnf-data", "4.14.0-3+deb12u1"),
    ("libdnf2-common", "0.69.0-2"),
    ("pacman-package-manager", "6.0.2-3"),
    ("libcupt-common", "2.10.4+nmu1"),
    ("partclone", "0.3.23+repack-1"),
    ("partimage", "0.6.9-10"),
    ("gnome-disk-utility", "43.0-1"),
    ("gparted-common", "1.3.1-1"),
    ("libbytesize-common", "2.7-1"),
    ("libvolume-key1", "0.3.12-5+b1"),
    ("libguestfs0", "1:1.48.6-2"),
    ("guestfs-tools", "1.48.2-1+deb12u1"),
    ("virt-v2v", "2.2.0-1"),
    ("virtinst", "1:4.1.0-2"),
    ("virt-viewer", "11.0-2"),
    ("libosinfo-l10n", "1.10.0-2"),
    ("osinfo-db-tools", "1.10.0-1"),
    ("sysprof", "3.46.0-4"),
    ("cinnamon-l10n", "5.6.1-2"),
    ("mate-desktop-common", "1.26.0-2"),
    ("caja-common", "1.26.1-1+deb12u1"),
    ("pluma-common", "1.26.0-1+deb12u1"),
    ("mate-control-center-common", "1.26.0-2+deb12u1"),
    ("mate-panel-common", "1.27.0-1"),
    ("mate-settings-daemon-common", "1.26.0-1+deb12u1"),
    ("mate-power-manager-common", "1.26.0-2+deb12u1"),
    ("marco-common", "1.26.1-3+deb12u2"),
    ("atril-common", "1.26.0-2+deb12u4"),
    ("engrampa-common", "1.26.0-1+deb12u2"),
    ("eom-common", "1.26.0-2"),
    ("mate-utils-common", "1.26.0-1+deb12u1"),
    ("mate-applets-common", "1.26.1-1"),
    ("mate-system-monitor-common", "1.26.0-1"),
    ("mate-terminal-common", "1.26.0-2"),
    ("mate-media-common", "1.26.0-2"),
    ("mate-session-manager", "1.26.0-1+deb12u1"),
    ("mate-screensaver-common", "1.26.1-1+deb12u1"),
    ("xfce4-session", "4.18.1-1"),
    ("xfce4-power-manager-data", "4.18.1-1"),
    ("xfce4-terminal", "1.0.4-1"),
    ("xfwm4", "4.18.0-1"),
    ("xfdesktop4-data", "4.18.1-1"),
    ("xfce4-appfinder", "4.18.0-1"),
    ("libxfce4ui-common", "4.18.2-2"),
    ("xfconf", "4.18.0-2"),
    ("tumbler-common", "4.18.0-1"),
    ("xfce4-notifyd", "0.7.3-1"),
    ("xfburn", "0.6.2-1+b1"),
    ("parole", "4.16.0-3"),
    ("ristretto", "0.12.4-1"),
    ("gnome-terminal-data", "3.46.8-1"),
    ("gnome-system-monitor", "42.0-2"),
    ("baobab", "43.0-1"),
    ("evince-common", "43.1-2+deb12u1"),
    ("eog", "43.2-1+deb12u1"),
    ("seahorse", "43.0-1"),
    ("gnome-calculator", "1:43.0.1-2"),
    ("gnome-settings-daemon-common", "43.0-4"),
    ("gnome-session-common", "43.0-1+deb12u1"),
    ("gdm3", "43.0-3"),
    ("gnome-keyring", "42.1-1+b2"),
    ("gcr", "3.41.1-1+b1"),
    ("gvfs-common", "1.50.3-1+deb12u1"),
    ("evolution-data-server-common", "3.46.4-2+deb12u1"),
    ("gnome-packagekit-common", "43.0-1"),
    ("gnome-logs", "43.0-1"),
    ("gnome-tweaks", "42~beta-4"),
    ("zenity-common", "3.44.0-1"),
    ("yelp", "42.2-1+deb12u2"),
    ("meld", "3.22.0-2"),
    ("gitg", "41-2"),
    ("gnucash-common", "1:4.13-1"),
    ("gnumeric-common", "1.12.55-1"),
    ("gramps", "5.1.5-1"),
    ("orca", "43.1-1"),
    ("simple-scan", "42.5-2"),
    ("shotwell-common", "0.30.17-1"),
    ("brasero-common", "3.12.3-2"),
    ("gthumb-data", "3:3.12.2-3"),
    ("libgweather-4-common", "4.2.0-2"),
    ("glib-networking-common", "2.74.0-4"),
    ("libsecret-common", "0.20.5-3"),
    ("plasma-workspace-data", "4:5.27.5-2+deb12u2"),
    ("plasma-desktop-data", "4:5.27.5-2"),
    ("kdeplasma-addons-data", "4:5.27.5-2"),
    ("kwin-data", "4:5.27.5-3"),
    ("systemsettings", "4:5.27.5-2"),
    ("kio", "5.103.0-1+deb12u1"),
    ("kio-extras-data", "4:22.12.3-1"),
    ("okular", "4:22.12.3-1+deb12u1"),
    ("dolphin", "4:22.12.3-1"),
    ("kate5-data", "4:22.12.3-1"),
    ("ktexteditor-data", "5.103.0-1.1"),
    ("kdevelop-l10n", "4:22.12.2-1"),
    ("kinfocenter", "4:5.27.5-2"),
    ("plasma-nm", "4:5.27.5-2"),
    ("kdeconnect", "22.12.3-1"),
    ("partitionmanager", "22.12.3-1"),
    ("libkpmcore12", "22.12.3-1"),
    ("ksystemlog", "4:22.12.3-1"),
    ("krusader", "2:2.8.0-1"),
    ("ark", "4:22.12.3-1+deb12u1"),
    ("kgpg", "4:22.12.3-1"),
    ("kleopatra", "4:22.12.3-1"),
    ("libkf5xmlgui-data", "5.103.0-1"),
    ("libkf5configwidgets-data", "5.103.0-1"),
    ("libkf5kdelibs4support-data", "5.103.0-1"),
    ("lyx-common", "2.3.7-1"),
    ("poedit-common", "3.2.2-1"),
    ("gtranslator", "42.0-1"),
    ("hexchat-common", "2.16.1-1"),
    ("transmission-gtk", "3.00-2.1+deb12u1"),
    ("deluge-common", "2.0.3-4"),
    ("geany-common", "1.38-1"),
    ("anjuta-common", "2:3.34.0-8"),
    ("gnome-builder", "43.6-3"),
    ("devhelp-common", "43.0-3"),
    ("ghex", "43.1-1"),
    ("kompare", "4:22.12.3-1"),
    ("umbrello-data", "4:22.12.3-1"),
    ("cervisia", "4:22.12.3-1"),
    ("kdesvn", "2.1.0-3"),
    ("tortoisehg", "6.3.1-1"),
    ("git-cola", "3.12.0-2"),
    ("rabbitvcs-core", "0.18-6"),
    ("sympa", "6.2.70~dfsg-2+deb12u2"),
    ("phpmyadmin", "4:5.2.1+dfsg-1+deb12u1"),
    ("zabbix-frontend-php", "1:6.0.14+dfsg-1"),
    ("gutenprint-locales", "5.3.4.20220624T01008808d602-1"),
    ("krita-l10n", "1:5.1.5+dfsg-2+deb12u1"),
    ("k3b-i18n", "22.12.3-1"),
    ("calligra-data", "1:3.2.1+dfsg-6"),
)
TEST_PACKAGES = ("wget", "nano", "parted", "gdb", "psmisc", "cpio")
VAL_PACKAGES = ("tar", "make", "sudo")
VERSION = 3
# each version's packages: version 1 is the first 54 (what the bundled translator's first
# training stage saw); versions 2 and 3 added 76 and 193, all in train, so val and test
# are the same in every version
VERSIONS = {1: PINNED_PACKAGES[:54], 2: PINNED_PACKAGES[:130], 3: PINNED_PACKAGES}


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
        302645
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
