#!/bin/sh
# The email tests read mail from a real IMAP server: Debian's dovecot, started by a test
# fixture on a free loopback port (it is never run as a system service here).
set -e
if command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; then exit 0; fi
echo "dovecot is missing; installing Debian's dovecot-imapd for the email tests" >&2
if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends dovecot-imapd >/dev/null 2>&1 || {
  $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends dovecot-imapd >/dev/null
}
