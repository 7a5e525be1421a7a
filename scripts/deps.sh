# Sourced by scripts/test and scripts/demo: install what jobsfs needs to build, test
# and run, from Debian's packages, when anything is missing.
JOBSFS_PACKAGES=(
	build-essential meson ninja-build pkg-config
	libfuse3-dev fuse3
	libcurl4-openssl-dev libjson-c-dev libmicrohttpd-dev libsqlite3-dev sqlite3
	libpq-dev postgresql postgresql-client
	libinih-dev
	check libsubunit-dev
	curl jq openssl python3 clang groff-base man-db util-linux
	ripgrep tar coreutils grep
)

jobsfs_install_deps() {
	local missing=() p
	for p in "${JOBSFS_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing: ${missing[*]}"
	local sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -qq &&
		"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
