#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""cni-conflist.py: chain portrsv-cni into a node's CNI network configuration.

    cni-conflist.py [--owner CGROUP_DIR] [--append] FILE
    cni-conflist.py --remove FILE

Inserts {"type": "portrsv-cni", "capabilities": {"portMappings": true}} right after the
"portmap" plugin of the conflist FILE (portrsv-cni(8)), so that the runtime hands it the
same runtimeConfig.portMappings it hands portmap. --owner adds the plugin's "owner" key;
without it the plugin's default applies (the cgroup of the runtime that runs it).
--remove takes every portrsv-cni entry out of the chain again (the reservations stay until
their containers' DEL or GC, or `portrsv delete`).

Exit status:
  0  added, or portrsv-cni is in the chain already (FILE is then not written at all);
     --remove: taken out, or not in the chain (not written)
  1  refused, FILE untouched: unreadable, not JSON, not a conflist, a cniVersion that
     portrsv-cni does not speak (1.0.0 and 1.1.0: with any other, every ADD would fail and
     no pod of the node would start), or no portmap plugin and no --append
  2  usage

The file is replaced atomically (a temporary file in the same directory, fsync, rename,
fsync of the directory), keeping its mode: a runtime that reads the directory at any moment
sees the old configuration or the new one. The temporary file's name starts with a dot and
ends in .tmp, so that no runtime takes it for a configuration.
"""
import json
import os
import sys
import tempfile

PLUGIN = "portrsv-cni"
VERSIONS = ("1.0.0", "1.1.0")


class Refused(Exception):
    pass


def no_duplicates(pairs):
    # json.loads keeps the last of two equal keys; a runtime's parser may keep another.
    # Which configuration is meant is then unknown: refuse.
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise Refused(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def load(path, check_version=True):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise Refused(f"cannot read: {e.strerror}")
    try:
        conf = json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates)
    except UnicodeDecodeError:
        raise Refused("not UTF-8")
    except json.JSONDecodeError as e:
        raise Refused(f"not JSON: {e.msg} at line {e.lineno} column {e.colno}")
    if not isinstance(conf, dict):
        raise Refused("not a JSON object")
    plugins = conf.get("plugins")
    if not isinstance(plugins, list) or not plugins:
        raise Refused('no "plugins" list: not a conflist (a single-plugin .conf cannot chain)')
    for i, p in enumerate(plugins):
        if not isinstance(p, dict) or not isinstance(p.get("type"), str) or not p["type"]:
            raise Refused(f'plugins[{i}] is not an object with a "type" string')
    version = conf.get("cniVersion")
    if check_version and version not in VERSIONS:
        raise Refused(f"cniVersion {version!r}: {PLUGIN} speaks {' and '.join(VERSIONS)} only,"
                      " and would fail every ADD of this network")
    return conf


def write(path, conf):
    st = os.stat(path)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(conf, f, indent=2)
            f.write("\n")
            f.flush()
            os.fchmod(f.fileno(), st.st_mode & 0o7777)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def main(argv):
    owner, append, remove, files = None, False, False, []
    args = iter(argv)
    for a in args:
        if a == "--append":
            append = True
        elif a == "--remove":
            remove = True
        elif a == "--owner":
            owner = next(args, None)
            if owner is None:
                return usage("--owner needs a cgroup directory")
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        elif a.startswith("-"):
            return usage(f"unknown option {a!r}")
        else:
            files.append(a)
    if len(files) != 1:
        return usage("one conflist file, please")
    if owner is not None and (not owner.startswith("/") or "\n" in owner):
        return usage(f"--owner {owner!r}: an absolute cgroup v2 path")
    if remove and (append or owner is not None):
        return usage("--remove takes no other option")
    path = files[0]
    try:
        # Taking the plugin out is right whatever the version: it is never refused for that.
        conf = load(path, check_version=not remove)
        plugins = conf["plugins"]
        if remove:
            kept = [p for p in plugins if p["type"] != PLUGIN]
            if len(kept) == len(plugins):
                print(f"cni-conflist: {path}: {PLUGIN} is not in the chain; unchanged")
                return 0
            if not kept:
                raise Refused(f"{PLUGIN} is the whole chain: nothing would be left")
            conf["plugins"] = kept
            write(path, conf)
            print(f"cni-conflist: {path}: {PLUGIN} taken out")
            return 0
        if any(p["type"] == PLUGIN for p in plugins):
            print(f"cni-conflist: {path}: {PLUGIN} is in the chain already; unchanged")
            return 0
        types = [p["type"] for p in plugins]
        if "portmap" in types:
            at = types.index("portmap") + 1
        elif append:
            at = len(plugins)
        else:
            raise Refused("no portmap plugin, so this chain may not publish host ports;"
                          f" --append adds {PLUGIN} at its end anyway")
        entry = {"type": PLUGIN, "capabilities": {"portMappings": True}}
        if owner is not None:
            entry["owner"] = owner
        plugins.insert(at, entry)
        write(path, conf)
    except Refused as e:
        print(f"cni-conflist: {path}: {e}; unchanged", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"cni-conflist: {path}: cannot write: {e.strerror}; unchanged", file=sys.stderr)
        return 1
    after = plugins[at - 1]["type"] if at else "nothing"
    print(f"cni-conflist: {path}: {PLUGIN} added after {after}")
    return 0


def usage(msg):
    print(f"cni-conflist: {msg}\nusage: cni-conflist.py [--owner CGROUP_DIR] [--append] FILE\n"
          "       cni-conflist.py --remove FILE",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
