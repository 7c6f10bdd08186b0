#!/bin/bash
# Regenerate scripts/rescuekit_example.txt from real runs of the built zipapp.
# Run after devtools/build.py whenever the registry or the dispatcher's help changes.
set -u
cd "$(dirname "$0")/.."
py27=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/2.7*/bin/python2.7 2>/dev/null | head -n1)
{
printf '%s\n\n\n' "Demonstrations of rescuekit, the dispatcher in front of every rescuekit tool."
printf '%s\n\n' "The smallest thing to try: what does this build contain?"
echo "# python3 build/rescuekit.pyz list"
python3 build/rescuekit.pyz list
printf '\n%s\n\n' "list prints one line per tool in the build you hold: its name and what it is for. The single files, the zipapp and the static binary carry the same explicit registry, so the list is the same whichever form you run."
echo "# curl -fsSL \$RK/build/rescuekit.py | python3 - --version"
python3 - --version < build/rescuekit.py
printf '\n%s\n\n' "The version is followed by a hash of the sources the file was built from: two copies with the same hash run the same code whatever their names, and a checkout prints the same hash as the build made from it. Piped into python3 the program never reads standard input for anything else, since standard input is the program itself."
if [ -n "$py27" ]; then
echo "# python2.7 build/rescuekit.py list"
"$py27" build/rescuekit.py list 2>&1
echo "# echo \$?"
"$py27" build/rescuekit.py list >/dev/null 2>&1; echo $?
printf '\n%s\n\n' "On an interpreter older than 3.6 the program refuses in one line, naming what it found and what to run instead, and exits 4 (unsupported environment). The whole file parses under Python 2.7, so the refusal is a message, never a SyntaxError."
fi
echo "# python3 build/rescuekit.pyz nosuchtool"
python3 build/rescuekit.pyz nosuchtool 2>&1
printf '\n%s\n\n' "An unknown tool is a usage error (exit 2) with a pointer to the list."
echo "USAGE message:"
echo
echo "# rescuekit --help"
python3 build/rescuekit.pyz --help
} > scripts/rescuekit_example.txt
