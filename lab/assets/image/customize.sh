#!/bin/bash
# Runs once per image build, chrooted into the freshly debootstrapped root, after the lab host has
# copied rootfs/ over it. Puts the recording stubs in place of the commands that would touch the
# host's kernel or init, diverted with dpkg-divert so that installing the real packages later
# (systemd, kmod, procps upgrades…) never overwrites them, and makes the root look like a fresh
# Debian 12 cloud image with no identity of its own yet (no host keys, hostname or machine id).
set -euo pipefail
export LC_ALL=C
stubs=/usr/lib/kp-lab/stubs

# stub NAME PACKAGED_PATH: PACKAGED_PATH is where the owning Debian package ships the command
# (bookworm still ships /bin and /sbin paths on its merged-/usr layout); the stub lives at the
# /usr path, and both spellings are diverted so that neither form of a later unpack replaces it.
stub() {
  local name=$1 packaged=$2 usr=/usr$2
  dpkg-divert --local --rename --divert "$packaged.kp-lab-real" --add "$packaged" >/dev/null
  if [[ $usr != "$packaged" ]]; then
    dpkg-divert --local --no-rename --divert "$usr.kp-lab-real-usr" --add "$usr" >/dev/null
  fi
  ln -sfn "$stubs/$name" "$usr"
}

stub systemctl /bin/systemctl
stub sysctl /sbin/sysctl
stub kmod /sbin/modprobe
stub kmod /sbin/rmmod
stub kmod /bin/lsmod
# kmod ships lsmod twice: /bin/lsmod for users, /sbin/lsmod on root's (and sudo's) PATH.
stub kmod /sbin/lsmod
stub swap /sbin/swapon
stub swap /sbin/swapoff
stub power /sbin/reboot
stub power /sbin/poweroff
stub power /sbin/halt
stub power /sbin/shutdown
# cloud-init ships /usr/bin/cloud-init itself.
dpkg-divert --local --rename --divert /usr/bin/cloud-init.kp-lab-real --add /usr/bin/cloud-init >/dev/null
ln -sfn "$stubs/cloud-init" /usr/bin/cloud-init

# The etcd "container image" the lab kubelet runs etcd from (its static pod registry.k8s.io/etcd):
# Debian's etcd-server and etcd-client, fetched through the lab's apt-cacher-ng (debootstrap's
# sources.list: bookworm main) and unpacked — not installed — under a folder that is not on the
# node's PATH, since on a kubeadm node etcdctl exists only inside the etcd container.
etcd_image=/var/lib/kp-lab/images/etcd
etcd_work=$(mktemp -d)
apt-get update -qq
(cd "$etcd_work" && apt-get download -qq -o APT::Sandbox::User=root etcd-server etcd-client)
for deb in "$etcd_work"/*.deb; do dpkg-deb -x "$deb" "$etcd_work/root"; done
install -d -m 0755 "$etcd_image/usr/local/bin"
install -m 0755 "$etcd_work/root/usr/bin/etcd" "$etcd_work/root/usr/bin/etcdctl" "$etcd_image/usr/local/bin/"
rm -rf "$etcd_work"

# A kernel-like package for the lab's OS updates (kp lab publish-update linux-image-kplab): no kernel
# (the VMs share the host's), but packaged like Debian's linux-image-*: a /boot image and a postinst
# that runs the /etc/kernel/postinst.d hooks, one of which records that a reboot is needed.
kernel_version=6.1.0-kplab1
kernel_work=$(mktemp -d)
install -d "$kernel_work/DEBIAN" "$kernel_work/boot"
printf 'kp lab kernel %s: a stand-in, the lab VMs run the host kernel\n' "$kernel_version" >"$kernel_work/boot/vmlinuz-$kernel_version"
printf 'CONFIG_LOCALVERSION="-kplab1"\n' >"$kernel_work/boot/config-$kernel_version"
chmod 0644 "$kernel_work/boot/"*
cat >"$kernel_work/DEBIAN/control" <<CONTROL
Package: linux-image-kplab
Version: $kernel_version
Architecture: amd64
Maintainer: kp lab <lab-packages@kp.invalid>
Installed-Size: 1
Section: kernel
Priority: optional
Description: Linux kernel stand-in for the kp lab
 Packaged like Debian's linux-image-*: its postinst runs /etc/kernel/postinst.d, whose
 reboot-required hook writes /var/run/reboot-required, so an update of it needs a reboot.
CONTROL
cat >"$kernel_work/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
version=6.1.0-kplab1
if [ "$1" = configure ] && [ -d /etc/kernel/postinst.d ]; then
  DEB_MAINT_PARAMS="$*" run-parts --report --exit-on-error --arg="$version" --arg="/boot/vmlinuz-$version" /etc/kernel/postinst.d
fi
POSTINST
chmod 0755 "$kernel_work/DEBIAN/postinst" /etc/kernel/postinst.d/kp-lab-reboot-required
dpkg-deb --root-owner-group --build "$kernel_work" /tmp/linux-image-kplab.deb >/dev/null
dpkg -i /tmp/linux-image-kplab.deb >/dev/null
# The build's own install asked for a reboot: the image is booted fresh anyway.
rm -rf "$kernel_work" /tmp/linux-image-kplab.deb /run/reboot-required /run/reboot-required.pkgs

cat >/etc/fstab <<'FSTAB'
# /etc/fstab: static file system information.
LABEL=debian-root / ext4 rw,discard,errors=remount-ro 0 1
/swap.img none swap sw 0 0
FSTAB

rm -f /etc/apt/sources.list
cat >/etc/apt/sources.list.d/debian.sources <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES

# Start current: debootstrap installed Debian's point release; the stable and security updates
# published since are applied now, so that a fresh lab VM has nothing to upgrade but what the lab
# publishes (kp lab publish-update) and what Debian publishes after the image was built. No service
# starts in the chroot (policy-rc.d), and the operator's files are kept as apt would on a node.
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d
apt-get update -qq
apt-get upgrade -y -qq -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold >/dev/null
rm -f /usr/sbin/policy-rc.d

# cloud-init's ssh_pwauth: false.
printf 'PasswordAuthentication no\n' >/etc/ssh/sshd_config.d/50-cloud-init.conf

# No identity until first boot: each VM generates its own.
rm -f /etc/ssh/ssh_host_* /etc/hostname /etc/resolv.conf
: >/etc/machine-id
rm -f /var/lib/dbus/machine-id
ln -sfn /usr/share/zoneinfo/Etc/UTC /etc/localtime

install -d -m 0755 /var/lib/kp-lab /var/log/kp-lab /etc/apt/keyrings
chmod 0755 /usr/local/sbin/kp-lab-init /usr/lib/kp-lab/container-run "$stubs"/*
chmod 0644 /etc/ssh/sshrc /usr/lib/kp-lab/stub-lib.sh /usr/lib/kp-lab/crictl.sh
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log /var/log/apt/* /root/.bash_history
