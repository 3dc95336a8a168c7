#!/bin/sh
# envdump.sh: test worker or service: writes its environment to $1/$2.env (atomically:
# a temporary file, then a rename); with $3 = stay it then sleeps until stopped.
env > "$1/$2.env.tmp" && mv "$1/$2.env.tmp" "$1/$2.env"
[ "$3" = stay ] && exec sleep 600
exit 0
