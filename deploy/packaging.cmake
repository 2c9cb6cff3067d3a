# The Debian package: `make deb` runs `cpack -G DEB` in the release build tree
# (deploy/README.md). Included from the top-level CMakeLists.txt after every target exists.
#
# Layout (deploy/systemd/wharf.service expects exactly these paths):
#   /usr/bin/wharf, /usr/bin/wharf-bench   the broker (and CLI) and the load generator
#   /lib/systemd/system/wharf*.service      the units; enabled by the operator, not the package
#   /etc/wharf/wharf.toml                   the config file, a dpkg conffile
#   /var/lib/wharf                          data, created by postinst for the wharf system user

install(TARGETS wharf wharf-bench RUNTIME DESTINATION bin)
# Debian bookworm ships units under /lib (merged /usr or not); absolute, outside the prefix.
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/wharf.service
              ${PROJECT_SOURCE_DIR}/deploy/systemd/wharf-tune.service
        DESTINATION /lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/wharf.toml DESTINATION /etc/wharf)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION share/doc/wharf)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME wharf)
set(CPACK_PACKAGE_VERSION 0.1.0)
set(CPACK_PACKAGE_CONTACT "Wharf developers <wharf@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Kafka-compatible message broker, one shard per CPU core")
# One string: set() with several would make a list, joined with ';' in the control file.
string(CONCAT CPACK_PACKAGE_DESCRIPTION
       "Wharf speaks the Kafka protocol to unmodified clients. Each core runs one shard with its "
       "own io_uring reactor, partitions and log. The package installs the broker, its "
       "command-line tools and load generator, systemd units and an example configuration.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# The runtime libraries (liburing2, libhwloc15, libnuma1, libzstd1, ...) come from
# dpkg-shlibdeps on the installed binaries; adduser is for postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/deploy/debian/conffiles
    ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
    ${PROJECT_SOURCE_DIR}/deploy/debian/prerm
    ${PROJECT_SOURCE_DIR}/deploy/debian/postrm)
# Maintainer scripts 0755 and conffiles 0644 whatever the checkout's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# Symbols stay: WHARF_ASSERT and the stall detector print backtraces with function names.
set(CPACK_STRIP_FILES OFF)
include(CPack)
