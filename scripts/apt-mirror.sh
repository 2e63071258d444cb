#!/usr/bin/env bash
# Reads this machine's apt sources and prints what setup.sh needs to add bookworm-backports:
#   "present"        bookworm-backports is already a configured suite;
#   "mirror URI"     the Debian archive mirror the machine already uses (so no host is named here);
# and exits 1 with a message on stderr when neither is found.
# Handles both apt layouts: one-line entries ("deb [opts] URI suite comp...") in sources.list and
# sources.list.d/*.list, and deb822 stanzas ("URIs:" / "Suites:") in sources.list.d/*.sources.
# Any of these files may be missing. Usage: apt-mirror.sh [ROOT] (ROOT defaults to /, for tests).
set -uo pipefail
root="${1:-/}"
root="${root%/}"
files=()
[ -f "$root/etc/apt/sources.list" ] && files+=("$root/etc/apt/sources.list")
for f in "$root"/etc/apt/sources.list.d/*.list "$root"/etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && files+=("$f")
done
if [ ${#files[@]} -eq 0 ]; then
  echo "apt-mirror: no apt sources under $root/etc/apt (sources.list or sources.list.d/*.list|*.sources)" >&2
  exit 1
fi

# Emit "URI SUITE" pairs from every file, whichever layout it uses.
pairs() {
  local f
  for f in "${files[@]}"; do
    case "$f" in
      *.sources)
        # deb822: stanzas separated by blank lines; URIs and Suites may each list several values.
        awk '
          function flush(   i, j, nu, ns, u, s) {
            if (types ~ /(^| )deb( |$)/ && enabled != "no") {
              nu = split(uris, u, " "); ns = split(suites, s, " ");
              for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print u[i], s[j];
            }
            uris = ""; suites = ""; types = ""; enabled = "";
          }
          /^[ \t]*#/ { next }
          /^[ \t]*$/ { flush(); next }
          tolower($1) == "uris:"    { $1 = ""; uris = $0 }
          tolower($1) == "suites:"  { $1 = ""; suites = $0 }
          tolower($1) == "types:"   { $1 = ""; types = $0 " " }
          tolower($1) == "enabled:" { enabled = tolower($2) }
          END { flush() }
        ' "$f"
        ;;
      *)
        # One-line: "deb [options] URI suite components..."; options are in brackets.
        sed -E -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && NF >= 3 { print $2, $3 }'
        ;;
    esac
  done
}

all=$(pairs)
if printf '%s\n' "$all" | awk '{print $2}' | grep -qx 'bookworm-backports'; then
  echo present
  exit 0
fi
# The main archive: a URI serving suite "bookworm" (the security archive serves bookworm-security).
mirror=$(printf '%s\n' "$all" | awk '$2 == "bookworm" { print $1; exit }')
if [ -z "$mirror" ]; then
  echo "apt-mirror: no Debian 'bookworm' suite found in: ${files[*]}" >&2
  exit 1
fi
echo "mirror ${mirror%/}"
