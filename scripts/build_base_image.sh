#!/usr/bin/env bash
# Build a minimal Debian bookworm image with debootstrap and load it with `docker import`,
# for hosts that cannot pull `debian:bookworm-slim` from Docker Hub (air-gapped hosts, this
# project's CI). The Dockerfile takes it through its BASE_IMAGE build argument:
#
#   bash scripts/build_base_image.sh            # prints the tag, e.g. tts-local/debian:bookworm-slim
#   docker build --build-arg BASE_IMAGE=tts-local/debian:bookworm-slim ...
#
# Needs root, debootstrap and a Debian mirror (DEBIAN_MIRROR, default deb.debian.org).
# The image is kept by tag: a second run returns at once unless REBUILD_BASE=1. Nothing
# depends on that cache: without the tag the image is built again from the mirror.
set -euo pipefail
cd "$(dirname "$0")/.."

DOCKER=${DOCKER:-$(command -v /usr/bin/docker || command -v docker)}
TAG=${BASE_TAG:-tts-local/debian:bookworm-slim}
SUITE=${DEBIAN_SUITE:-bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
ROOTFS=${BASE_ROOTFS:-var/base-rootfs}

if [ "${REBUILD_BASE:-0}" != "1" ] && "$DOCKER" image inspect "$TAG" >/dev/null 2>&1; then
    echo "$TAG"
    exit 0
fi
command -v debootstrap >/dev/null || {
    echo "debootstrap is not installed (apt-get install debootstrap)" >&2
    exit 2
}
[ "$(id -u)" -eq 0 ] || { echo "debootstrap needs root" >&2; exit 2; }

echo ">> debootstrap $SUITE from $MIRROR into $ROOTFS" >&2
rm -rf "$ROOTFS"
mkdir -p "$ROOTFS"
# minbase: essential packages and apt only, like the official slim image.
debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1 || {
    tail -20 "$ROOTFS.log" >&2
    exit 1
}

# What debian:bookworm-slim does to stay small: no docs, man pages or locales from packages,
# no apt caches, and apt sources for the release and its security updates.
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
cat >"$ROOTFS/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
cat >"$ROOTFS/etc/apt/apt.conf.d/docker-no-languages" <<'EOF'
Acquire::Languages "none";
EOF
rm -f "$ROOTFS/etc/apt/sources.list"
cat >"$ROOTFS/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
rm -rf "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
    "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
    "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/log/*.log "$ROOTFS"/debootstrap
echo ">> docker import as $TAG" >&2
tar -C "$ROOTFS" --numeric-owner -c . | "$DOCKER" import \
    --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --message "debootstrap --variant=minbase $SUITE $MIRROR" - "$TAG" >/dev/null
rm -rf "$ROOTFS"
echo "$TAG"
