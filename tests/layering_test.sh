#!/usr/bin/env bash
# Fails when an include points up the dependency table of DESIGN.md section 2:
# reactor < log < raft < core, and net < core; net includes neither log nor raft.
set -u
root=${1:-.}
cd "$root" || exit 2
fail=0
check() { # FOLDER FORBIDDEN-REGEX
  local hits
  hits=$(grep -rnE "#include [\"<]($2)/" "$1" --include='*.h' --include='*.cc' 2>/dev/null)
  if [ -n "$hits" ]; then
    echo "includes that cross the dependency table upward from $1/:"
    echo "$hits"
    fail=1
  fi
}
check reactor 'log|raft|net|core'
check log 'raft|net|core'
check raft 'net|core'
check net 'log|raft|core'
[ $fail -eq 0 ] && echo "layering: ok"
exit $fail
