package diagnose

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"libreflash/internal/testutil"
)

// transcriptWants is what each recorded flasher run in testdata/flashers
// must diagnose to, as "set/name": {outcome, primary cause or "-"}. Every
// flasher version there is covered, each dummy fault included.
var transcriptWants = map[string][2]string{
	"flashprog-1.5/bad-programmer-param":                                   {"failed", "usage_error"},
	"flashprog-1.5/bad-programmer-param-progress":                          {"failed", "usage_error"},
	"flashprog-1.5/chip-not-found":                                         {"failed", "chip_not_found"},
	"flashprog-1.5/chip-not-found-combined":                                {"failed", "chip_not_found"},
	"flashprog-1.5/chip-not-found-progress":                                {"failed", "chip_not_found"},
	"flashprog-1.5/chip-not-found-progress-combined":                       {"failed", "chip_not_found"},
	"flashprog-1.5/chip-not-found-write":                                   {"failed", "chip_not_found"},
	"flashprog-1.5/chip-not-found-write-progress":                          {"failed", "chip_not_found"},
	"flashprog-1.5/erase":                                                  {"success", "-"},
	"flashprog-1.5/erase-all-ignored":                                      {"unchanged", "write_failed"},
	"flashprog-1.5/erase-all-ignored-combined":                             {"unchanged", "write_failed"},
	"flashprog-1.5/erase-all-ignored-progress":                             {"unchanged", "write_failed"},
	"flashprog-1.5/erase-all-refused":                                      {"failed", "write_failed"},
	"flashprog-1.5/erase-all-refused-E":                                    {"unknown_state", "write_failed"},
	"flashprog-1.5/erase-all-refused-E-progress":                           {"unknown_state", "write_failed"},
	"flashprog-1.5/erase-all-refused-progress":                             {"failed", "write_failed"},
	"flashprog-1.5/erase-ignored-20-full":                                  {"success", "-"},
	"flashprog-1.5/erase-ignored-20-small":                                 {"unchanged", "write_failed"},
	"flashprog-1.5/erase-ignored-20-small-combined":                        {"unchanged", "write_failed"},
	"flashprog-1.5/erase-ignored-2052-full":                                {"success", "-"},
	"flashprog-1.5/erase-ignored-2052-small":                               {"unchanged", "write_failed"},
	"flashprog-1.5/erase-ignored-20d852-full":                              {"success", "-"},
	"flashprog-1.5/erase-ignored-20d852-small":                             {"unchanged", "write_failed"},
	"flashprog-1.5/erase-ignored-52-full":                                  {"success", "-"},
	"flashprog-1.5/erase-ignored-52-small":                                 {"success", "-"},
	"flashprog-1.5/erase-ignored-52d8c760-full":                            {"unchanged", "write_failed"},
	"flashprog-1.5/erase-ignored-52d8c760-small":                           {"unknown_state", "write_failed"},
	"flashprog-1.5/erase-ignored-c760-full":                                {"unchanged", "write_failed"},
	"flashprog-1.5/erase-ignored-c760-small":                               {"success", "-"},
	"flashprog-1.5/erase-ignored-d8-full":                                  {"success", "-"},
	"flashprog-1.5/erase-ignored-d8-small":                                 {"unknown_state", "write_failed"},
	"flashprog-1.5/erase-ignored-d8-small-combined":                        {"unknown_state", "write_failed"},
	"flashprog-1.5/erase-ignored-d8-small-progress-combined":               {"unknown_state", "write_failed"},
	"flashprog-1.5/erase-progress":                                         {"success", "-"},
	"flashprog-1.5/erase-refused-20-full":                                  {"success", "-"},
	"flashprog-1.5/erase-refused-20-small":                                 {"success", "-"},
	"flashprog-1.5/erase-refused-2052-full":                                {"success", "-"},
	"flashprog-1.5/erase-refused-2052-small":                               {"success", "-"},
	"flashprog-1.5/erase-refused-20d852-full":                              {"success", "-"},
	"flashprog-1.5/erase-refused-20d852-small":                             {"success", "-"},
	"flashprog-1.5/erase-refused-52-full":                                  {"success", "-"},
	"flashprog-1.5/erase-refused-52-small":                                 {"success", "-"},
	"flashprog-1.5/erase-refused-52d8c760-full":                            {"success", "-"},
	"flashprog-1.5/erase-refused-52d8c760-small":                           {"success", "-"},
	"flashprog-1.5/erase-refused-c760-full":                                {"success", "-"},
	"flashprog-1.5/erase-refused-c760-small":                               {"success", "-"},
	"flashprog-1.5/erase-refused-d8-full":                                  {"success", "-"},
	"flashprog-1.5/erase-refused-d8-small":                                 {"success", "-"},
	"flashprog-1.5/flash-name":                                             {"success", "-"},
	"flashprog-1.5/flash-name-progress":                                    {"success", "-"},
	"flashprog-1.5/flash-size":                                             {"success", "-"},
	"flashprog-1.5/flash-size-progress":                                    {"success", "-"},
	"flashprog-1.5/freq-param-unsupported":                                 {"failed", "usage_error"},
	"flashprog-1.5/help":                                                   {"success", "-"},
	"flashprog-1.5/image-size-mismatch":                                    {"failed", "image_size_mismatch"},
	"flashprog-1.5/image-size-mismatch-progress":                           {"failed", "image_size_mismatch"},
	"flashprog-1.5/missing-image-file":                                     {"failed", "usage_error"},
	"flashprog-1.5/missing-image-file-progress":                            {"failed", "usage_error"},
	"flashprog-1.5/probe":                                                  {"success", "-"},
	"flashprog-1.5/probe-progress":                                         {"success", "-"},
	"flashprog-1.5/program-ignored":                                        {"unknown_state", "verify_failed"},
	"flashprog-1.5/program-ignored-combined":                               {"unknown_state", "verify_failed"},
	"flashprog-1.5/program-ignored-progress":                               {"unknown_state", "verify_failed"},
	"flashprog-1.5/program-refused":                                        {"unknown_state", "bios_lock"},
	"flashprog-1.5/program-refused-combined":                               {"unknown_state", "bios_lock"},
	"flashprog-1.5/program-refused-progress":                               {"unknown_state", "bios_lock"},
	"flashprog-1.5/read":                                                   {"success", "-"},
	"flashprog-1.5/read-progress":                                          {"success", "-"},
	"flashprog-1.5/verify-mismatch":                                        {"failed", "verify_failed"},
	"flashprog-1.5/verify-mismatch-combined":                               {"failed", "verify_failed"},
	"flashprog-1.5/verify-mismatch-progress":                               {"failed", "verify_failed"},
	"flashprog-1.5/verify-ok":                                              {"success", "-"},
	"flashprog-1.5/verify-ok-progress":                                     {"success", "-"},
	"flashprog-1.5/version":                                                {"success", "-"},
	"flashprog-1.5/write-changed":                                          {"success", "-"},
	"flashprog-1.5/write-changed-combined":                                 {"success", "-"},
	"flashprog-1.5/write-changed-progress":                                 {"success", "-"},
	"flashprog-1.5/write-flash-contents":                                   {"success", "-"},
	"flashprog-1.5/write-flash-contents-stale":                             {"success", "-"},
	"flashprog-1.5/write-identical":                                        {"success", "-"},
	"flashprog-1.5/write-identical-progress":                               {"success", "-"},
	"flashprog-1.5/write-noverify":                                         {"success", "-"},
	"flashprog-1.5/write-small-change":                                     {"success", "-"},
	"flashprog-HEAD-79d5c66-dummy/ambiguous-chip-ids":                      {"failed", "multiple_chips"},
	"flashprog-HEAD-79d5c66-dummy/chip-silently-ignores-all-erase-opcodes": {"unchanged", "write_failed"},
	"flashprog-HEAD-79d5c66-dummy/chip-silently-ignores-page-program":      {"unknown_state", "verify_failed"},
	"flashprog-HEAD-79d5c66-dummy/e-with-erase-opcodes-refused":            {"unknown_state", "write_failed"},
	"flashprog-HEAD-79d5c66-dummy/erase":                                   {"success", "-"},
	"flashprog-HEAD-79d5c66-dummy/erase-opcodes-refused-by-controller":     {"failed", "write_failed"},
	"flashprog-HEAD-79d5c66-dummy/flash-name":                              {"success", "-"},
	"flashprog-HEAD-79d5c66-dummy/flash-size":                              {"success", "-"},
	"flashprog-HEAD-79d5c66-dummy/fmap-on-image-without-fmap":              {"failed", "usage_error"},
	"flashprog-HEAD-79d5c66-dummy/forced-read-of-unprobeable-chip":         {"success", "-"},
	"flashprog-HEAD-79d5c66-dummy/hardware-write-protection-wp-srp0-bp":    {"unchanged", "bios_lock"},
	"flashprog-HEAD-79d5c66-dummy/i-without-layout":                        {"failed", "usage_error"},
	"flashprog-HEAD-79d5c66-dummy/id-opcodes-refused-chip-not-found":       {"failed", "chip_not_found"},
	"flashprog-HEAD-79d5c66-dummy/ifd-on-image-without-descriptor":         {"failed", "usage_error"},
	"flashprog-HEAD-79d5c66-dummy/image-size-mismatch":                     {"failed", "image_size_mismatch"},
	"flashprog-HEAD-79d5c66-dummy/invalid-region":                          {"failed", "usage_error"},
	"flashprog-HEAD-79d5c66-dummy/layout-region-write":                     {"success", "-"},
	"flashprog-HEAD-79d5c66-dummy/missing-image-file":                      {"failed", "usage_error"},
	"flashprog-HEAD-79d5c66-dummy/page-program-0x02-refused-by-controller": {"unknown_state", "bios_lock"},
	"flashprog-HEAD-79d5c66-dummy/probe-no-image-file-yet":                 {"success", "-"},
	"flashprog-HEAD-79d5c66-dummy/read":                                    {"success", "-"},
	"flashprog-HEAD-79d5c66-dummy/read-0x03-0x0b-refused-read-fails":       {"failed", "unknown"},
	"flashprog-HEAD-79d5c66-dummy/region-beyond-chip-end":                  {"failed", "usage_error"},
	"flashprog-HEAD-79d5c66-dummy/two-operations":                          {"failed", "usage_error"},
	"flashprog-HEAD-79d5c66-dummy/unhandled-programmer-parameter":          {"failed", "usage_error"},
	"flashprog-HEAD-79d5c66-dummy/unknown-chip-name":                       {"failed", "usage_error"},
	"flashprog-HEAD-79d5c66-dummy/unknown-programmer":                      {"failed", "usage_error"},
	"flashprog-HEAD-79d5c66-dummy/verify-mismatch":                         {"failed", "verify_failed"},
	"flashprog-HEAD-79d5c66-dummy/verify-ok":                               {"success", "-"},
	"flashprog-HEAD-79d5c66-dummy/write-16-mib-to-blank-chip":              {"success", "-"},
	"flashprog-HEAD-79d5c66-dummy/write-identical-image":                   {"success", "-"},
	"flashprog-HEAD-79d5c66/bad-programmer-param":                          {"failed", "usage_error"},
	"flashprog-HEAD-79d5c66/bad-programmer-param-progress":                 {"failed", "usage_error"},
	"flashprog-HEAD-79d5c66/chip-not-found":                                {"failed", "chip_not_found"},
	"flashprog-HEAD-79d5c66/chip-not-found-combined":                       {"failed", "chip_not_found"},
	"flashprog-HEAD-79d5c66/chip-not-found-progress":                       {"failed", "chip_not_found"},
	"flashprog-HEAD-79d5c66/chip-not-found-progress-combined":              {"failed", "chip_not_found"},
	"flashprog-HEAD-79d5c66/chip-not-found-write":                          {"failed", "chip_not_found"},
	"flashprog-HEAD-79d5c66/chip-not-found-write-progress":                 {"failed", "chip_not_found"},
	"flashprog-HEAD-79d5c66/erase":                                         {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-all-ignored":                             {"unchanged", "write_failed"},
	"flashprog-HEAD-79d5c66/erase-all-ignored-combined":                    {"unchanged", "write_failed"},
	"flashprog-HEAD-79d5c66/erase-all-ignored-progress":                    {"unchanged", "write_failed"},
	"flashprog-HEAD-79d5c66/erase-all-refused":                             {"failed", "write_failed"},
	"flashprog-HEAD-79d5c66/erase-all-refused-E":                           {"unknown_state", "write_failed"},
	"flashprog-HEAD-79d5c66/erase-all-refused-E-progress":                  {"unknown_state", "write_failed"},
	"flashprog-HEAD-79d5c66/erase-all-refused-progress":                    {"failed", "write_failed"},
	"flashprog-HEAD-79d5c66/erase-ignored-20-full":                         {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-ignored-20-small":                        {"unchanged", "write_failed"},
	"flashprog-HEAD-79d5c66/erase-ignored-20-small-combined":               {"unchanged", "write_failed"},
	"flashprog-HEAD-79d5c66/erase-ignored-2052-full":                       {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-ignored-2052-small":                      {"unchanged", "write_failed"},
	"flashprog-HEAD-79d5c66/erase-ignored-20d852-full":                     {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-ignored-20d852-small":                    {"unchanged", "write_failed"},
	"flashprog-HEAD-79d5c66/erase-ignored-52-full":                         {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-ignored-52-small":                        {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-ignored-52d8c760-full":                   {"unchanged", "write_failed"},
	"flashprog-HEAD-79d5c66/erase-ignored-52d8c760-small":                  {"unknown_state", "write_failed"},
	"flashprog-HEAD-79d5c66/erase-ignored-c760-full":                       {"unchanged", "write_failed"},
	"flashprog-HEAD-79d5c66/erase-ignored-c760-small":                      {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-ignored-d8-full":                         {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-ignored-d8-small":                        {"unknown_state", "write_failed"},
	"flashprog-HEAD-79d5c66/erase-ignored-d8-small-combined":               {"unknown_state", "write_failed"},
	"flashprog-HEAD-79d5c66/erase-ignored-d8-small-progress-combined":      {"unknown_state", "write_failed"},
	"flashprog-HEAD-79d5c66/erase-progress":                                {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-refused-20-full":                         {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-refused-20-small":                        {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-refused-2052-full":                       {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-refused-2052-small":                      {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-refused-20d852-full":                     {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-refused-20d852-small":                    {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-refused-52-full":                         {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-refused-52-small":                        {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-refused-52d8c760-full":                   {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-refused-52d8c760-small":                  {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-refused-c760-full":                       {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-refused-c760-small":                      {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-refused-d8-full":                         {"success", "-"},
	"flashprog-HEAD-79d5c66/erase-refused-d8-small":                        {"success", "-"},
	"flashprog-HEAD-79d5c66/flash-name":                                    {"success", "-"},
	"flashprog-HEAD-79d5c66/flash-name-progress":                           {"success", "-"},
	"flashprog-HEAD-79d5c66/flash-size":                                    {"success", "-"},
	"flashprog-HEAD-79d5c66/flash-size-progress":                           {"success", "-"},
	"flashprog-HEAD-79d5c66/freq-param-unsupported":                        {"failed", "usage_error"},
	"flashprog-HEAD-79d5c66/help":                                          {"success", "-"},
	"flashprog-HEAD-79d5c66/image-size-mismatch":                           {"failed", "image_size_mismatch"},
	"flashprog-HEAD-79d5c66/image-size-mismatch-progress":                  {"failed", "image_size_mismatch"},
	"flashprog-HEAD-79d5c66/missing-image-file":                            {"failed", "usage_error"},
	"flashprog-HEAD-79d5c66/missing-image-file-progress":                   {"failed", "usage_error"},
	"flashprog-HEAD-79d5c66/probe":                                         {"success", "-"},
	"flashprog-HEAD-79d5c66/probe-progress":                                {"success", "-"},
	"flashprog-HEAD-79d5c66/program-ignored":                               {"unknown_state", "verify_failed"},
	"flashprog-HEAD-79d5c66/program-ignored-combined":                      {"unknown_state", "verify_failed"},
	"flashprog-HEAD-79d5c66/program-ignored-progress":                      {"unknown_state", "verify_failed"},
	"flashprog-HEAD-79d5c66/program-refused":                               {"unknown_state", "bios_lock"},
	"flashprog-HEAD-79d5c66/program-refused-combined":                      {"unknown_state", "bios_lock"},
	"flashprog-HEAD-79d5c66/program-refused-progress":                      {"unknown_state", "bios_lock"},
	"flashprog-HEAD-79d5c66/read":                                          {"success", "-"},
	"flashprog-HEAD-79d5c66/read-progress":                                 {"success", "-"},
	"flashprog-HEAD-79d5c66/verify-mismatch":                               {"failed", "verify_failed"},
	"flashprog-HEAD-79d5c66/verify-mismatch-combined":                      {"failed", "verify_failed"},
	"flashprog-HEAD-79d5c66/verify-mismatch-progress":                      {"failed", "verify_failed"},
	"flashprog-HEAD-79d5c66/verify-ok":                                     {"success", "-"},
	"flashprog-HEAD-79d5c66/verify-ok-progress":                            {"success", "-"},
	"flashprog-HEAD-79d5c66/version":                                       {"success", "-"},
	"flashprog-HEAD-79d5c66/write-changed":                                 {"success", "-"},
	"flashprog-HEAD-79d5c66/write-changed-combined":                        {"success", "-"},
	"flashprog-HEAD-79d5c66/write-changed-progress":                        {"success", "-"},
	"flashprog-HEAD-79d5c66/write-flash-contents":                          {"success", "-"},
	"flashprog-HEAD-79d5c66/write-flash-contents-stale":                    {"success", "-"},
	"flashprog-HEAD-79d5c66/write-identical":                               {"success", "-"},
	"flashprog-HEAD-79d5c66/write-identical-progress":                      {"success", "-"},
	"flashprog-HEAD-79d5c66/write-noverify":                                {"success", "-"},
	"flashprog-HEAD-79d5c66/write-small-change":                            {"success", "-"},
	"flashprog-p1.5-91-g79d5c66/bad-programmer-param":                      {"failed", "usage_error"},
	"flashprog-p1.5-91-g79d5c66/chip-not-found-dummy":                      {"failed", "chip_not_found"},
	"flashprog-p1.5-91-g79d5c66/flash-name":                                {"success", "-"},
	"flashprog-p1.5-91-g79d5c66/flash-size":                                {"success", "-"},
	"flashprog-p1.5-91-g79d5c66/internal-iopl-enosys":                      {"failed", "iopl_unavailable"},
	"flashprog-p1.5-91-g79d5c66/missing-file":                              {"failed", "usage_error"},
	"flashprog-p1.5-91-g79d5c66/no-programmer":                             {"failed", "usage_error"},
	"flashprog-p1.5-91-g79d5c66/probe-ok":                                  {"success", "-"},
	"flashprog-p1.5-91-g79d5c66/qemu-q35-internal-chip-not-found":          {"failed", "chip_not_found"},
	"flashprog-p1.5-91-g79d5c66/qemu-q35-internal-lockdown-integrity":      {"failed", "not_root"},
	"flashprog-p1.5-91-g79d5c66/qemu-q35-internal-not-root":                {"failed", "not_root"},
	"flashprog-p1.5-91-g79d5c66/read-plain-ok":                             {"success", "-"},
	"flashprog-p1.5-91-g79d5c66/read-progress-ok":                          {"success", "-"},
	"flashprog-p1.5-91-g79d5c66/verify-mismatch":                           {"failed", "verify_failed"},
	"flashprog-p1.5-91-g79d5c66/verify-progress-ok":                        {"success", "-"},
	"flashprog-p1.5-91-g79d5c66/write-erase-blocked":                       {"failed", "write_failed"},
	"flashprog-p1.5-91-g79d5c66/write-erase-ignored-verify-fail":           {"unchanged", "write_failed"},
	"flashprog-p1.5-91-g79d5c66/write-flash-contents-progress-ok":          {"success", "-"},
	"flashprog-p1.5-91-g79d5c66/write-plain-ok":                            {"success", "-"},
	"flashprog-p1.5-91-g79d5c66/write-program-blocked":                     {"unknown_state", "bios_lock"},
	"flashprog-p1.5-91-g79d5c66/write-program-ignored-verify-fail":         {"unknown_state", "verify_failed"},
	"flashprog-p1.5-91-g79d5c66/write-progress-ok":                         {"success", "-"},
	"flashprog-p1.5-91-g79d5c66/write-size-mismatch":                       {"failed", "image_size_mismatch"},
	"flashrom-1.3.0-debian-dummy/ambiguous-chip-ids":                       {"failed", "multiple_chips"},
	"flashrom-1.3.0-debian-dummy/chip-silently-ignores-all-erase-opcodes":  {"unchanged", "write_failed"},
	"flashrom-1.3.0-debian-dummy/chip-silently-ignores-page-program":       {"unknown_state", "verify_failed"},
	"flashrom-1.3.0-debian-dummy/e-with-erase-opcodes-refused":             {"unknown_state", "bios_lock"},
	"flashrom-1.3.0-debian-dummy/erase":                                    {"success", "-"},
	"flashrom-1.3.0-debian-dummy/erase-opcodes-refused-by-controller":      {"unchanged", "bios_lock"},
	"flashrom-1.3.0-debian-dummy/flash-name":                               {"success", "-"},
	"flashrom-1.3.0-debian-dummy/flash-size":                               {"success", "-"},
	"flashrom-1.3.0-debian-dummy/fmap-on-image-without-fmap":               {"failed", "usage_error"},
	"flashrom-1.3.0-debian-dummy/forced-read-of-unprobeable-chip":          {"success", "-"},
	"flashrom-1.3.0-debian-dummy/hardware-write-protection-wp-srp0-bp":     {"unchanged", "bios_lock"},
	"flashrom-1.3.0-debian-dummy/i-without-layout":                         {"failed", "usage_error"},
	"flashrom-1.3.0-debian-dummy/id-opcodes-refused-chip-not-found":        {"failed", "chip_not_found"},
	"flashrom-1.3.0-debian-dummy/ifd-on-image-without-descriptor":          {"failed", "usage_error"},
	"flashrom-1.3.0-debian-dummy/image-size-mismatch":                      {"failed", "image_size_mismatch"},
	"flashrom-1.3.0-debian-dummy/invalid-region":                           {"failed", "usage_error"},
	"flashrom-1.3.0-debian-dummy/layout-region-write":                      {"success", "-"},
	"flashrom-1.3.0-debian-dummy/missing-image-file":                       {"failed", "usage_error"},
	"flashrom-1.3.0-debian-dummy/page-program-0x02-refused-by-controller":  {"unknown_state", "bios_lock"},
	"flashrom-1.3.0-debian-dummy/probe-no-image-file-yet":                  {"success", "-"},
	"flashrom-1.3.0-debian-dummy/read":                                     {"success", "-"},
	"flashrom-1.3.0-debian-dummy/read-0x03-0x0b-refused-read-fails":        {"failed", "unknown"},
	"flashrom-1.3.0-debian-dummy/region-beyond-chip-end":                   {"failed", "usage_error"},
	"flashrom-1.3.0-debian-dummy/two-operations":                           {"failed", "usage_error"},
	"flashrom-1.3.0-debian-dummy/unhandled-programmer-parameter":           {"failed", "usage_error"},
	"flashrom-1.3.0-debian-dummy/unknown-chip-name":                        {"failed", "usage_error"},
	"flashrom-1.3.0-debian-dummy/unknown-programmer":                       {"failed", "usage_error"},
	"flashrom-1.3.0-debian-dummy/verify-mismatch":                          {"failed", "verify_failed"},
	"flashrom-1.3.0-debian-dummy/verify-ok":                                {"success", "-"},
	"flashrom-1.3.0-debian-dummy/write-16-mib-to-blank-chip":               {"success", "-"},
	"flashrom-1.3.0-debian-dummy/write-identical-image":                    {"success", "-"},
	"flashrom-1.3.0-debian-matrix/bad-programmer-param":                    {"failed", "usage_error"},
	"flashrom-1.3.0-debian-matrix/chip-not-found":                          {"failed", "chip_not_found"},
	"flashrom-1.3.0-debian-matrix/chip-not-found-combined":                 {"failed", "chip_not_found"},
	"flashrom-1.3.0-debian-matrix/chip-not-found-write":                    {"failed", "chip_not_found"},
	"flashrom-1.3.0-debian-matrix/erase":                                   {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-all-ignored":                       {"unchanged", "write_failed"},
	"flashrom-1.3.0-debian-matrix/erase-all-ignored-combined":              {"unchanged", "write_failed"},
	"flashrom-1.3.0-debian-matrix/erase-all-refused":                       {"unchanged", "bios_lock"},
	"flashrom-1.3.0-debian-matrix/erase-all-refused-E":                     {"unknown_state", "bios_lock"},
	"flashrom-1.3.0-debian-matrix/erase-ignored-20-full":                   {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-ignored-20-small":                  {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-ignored-20-small-combined":         {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-ignored-2052-full":                 {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-ignored-2052-small":                {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-ignored-20d852-full":               {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-ignored-20d852-small":              {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-ignored-52-full":                   {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-ignored-52-small":                  {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-ignored-52d8c760-full":             {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-ignored-52d8c760-small":            {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-ignored-c760-full":                 {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-ignored-c760-small":                {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-ignored-d8-full":                   {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-ignored-d8-small":                  {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-ignored-d8-small-combined":         {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-refused-20-full":                   {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-refused-20-small":                  {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-refused-2052-full":                 {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-refused-2052-small":                {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-refused-20d852-full":               {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-refused-20d852-small":              {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-refused-52-full":                   {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-refused-52-small":                  {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-refused-52d8c760-full":             {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-refused-52d8c760-small":            {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-refused-c760-full":                 {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-refused-c760-small":                {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-refused-d8-full":                   {"success", "-"},
	"flashrom-1.3.0-debian-matrix/erase-refused-d8-small":                  {"success", "-"},
	"flashrom-1.3.0-debian-matrix/flash-name":                              {"success", "-"},
	"flashrom-1.3.0-debian-matrix/flash-size":                              {"success", "-"},
	"flashrom-1.3.0-debian-matrix/help":                                    {"success", "-"},
	"flashrom-1.3.0-debian-matrix/image-size-mismatch":                     {"failed", "image_size_mismatch"},
	"flashrom-1.3.0-debian-matrix/missing-image-file":                      {"failed", "usage_error"},
	"flashrom-1.3.0-debian-matrix/probe":                                   {"success", "-"},
	"flashrom-1.3.0-debian-matrix/program-ignored":                         {"unknown_state", "verify_failed"},
	"flashrom-1.3.0-debian-matrix/program-ignored-combined":                {"unknown_state", "verify_failed"},
	"flashrom-1.3.0-debian-matrix/program-refused":                         {"unknown_state", "bios_lock"},
	"flashrom-1.3.0-debian-matrix/program-refused-combined":                {"unknown_state", "bios_lock"},
	"flashrom-1.3.0-debian-matrix/read":                                    {"success", "-"},
	"flashrom-1.3.0-debian-matrix/slow-write":                              {"success", "-"},
	"flashrom-1.3.0-debian-matrix/verify-mismatch":                         {"failed", "verify_failed"},
	"flashrom-1.3.0-debian-matrix/verify-mismatch-combined":                {"failed", "verify_failed"},
	"flashrom-1.3.0-debian-matrix/verify-ok":                               {"success", "-"},
	"flashrom-1.3.0-debian-matrix/version":                                 {"success", "-"},
	"flashrom-1.3.0-debian-matrix/write-changed":                           {"success", "-"},
	"flashrom-1.3.0-debian-matrix/write-changed-combined":                  {"success", "-"},
	"flashrom-1.3.0-debian-matrix/write-flash-contents":                    {"success", "-"},
	"flashrom-1.3.0-debian-matrix/write-flash-contents-stale":              {"success", "-"},
	"flashrom-1.3.0-debian-matrix/write-identical":                         {"success", "-"},
	"flashrom-1.3.0-debian-matrix/write-noverify":                          {"success", "-"},
	"flashrom-1.3.0-debian-matrix/write-small-change":                      {"success", "-"},
	"flashrom-1.3.0-debian/qemu-q35-internal-default":                      {"failed", "chip_not_found"},
	"flashrom-1.4.0/bad-programmer-param":                                  {"failed", "usage_error"},
	"flashrom-1.4.0/bad-programmer-param-progress":                         {"failed", "usage_error"},
	"flashrom-1.4.0/chip-not-found":                                        {"failed", "chip_not_found"},
	"flashrom-1.4.0/chip-not-found-combined":                               {"failed", "chip_not_found"},
	"flashrom-1.4.0/chip-not-found-progress":                               {"failed", "chip_not_found"},
	"flashrom-1.4.0/chip-not-found-progress-combined":                      {"failed", "chip_not_found"},
	"flashrom-1.4.0/chip-not-found-write":                                  {"failed", "chip_not_found"},
	"flashrom-1.4.0/chip-not-found-write-progress":                         {"failed", "chip_not_found"},
	"flashrom-1.4.0/erase":                                                 {"success", "-"},
	"flashrom-1.4.0/erase-all-ignored":                                     {"unchanged", "write_failed"},
	"flashrom-1.4.0/erase-all-ignored-combined":                            {"unchanged", "write_failed"},
	"flashrom-1.4.0/erase-all-ignored-progress":                            {"unchanged", "write_failed"},
	"flashrom-1.4.0/erase-all-ignored-progress-combined":                   {"unchanged", "write_failed"},
	"flashrom-1.4.0/erase-all-refused":                                     {"failed", "write_failed"},
	"flashrom-1.4.0/erase-all-refused-E":                                   {"unknown_state", "write_failed"},
	"flashrom-1.4.0/erase-all-refused-E-progress":                          {"unknown_state", "write_failed"},
	"flashrom-1.4.0/erase-all-refused-progress":                            {"failed", "write_failed"},
	"flashrom-1.4.0/erase-ignored-20-full":                                 {"success", "-"},
	"flashrom-1.4.0/erase-ignored-20-small":                                {"unchanged", "write_failed"},
	"flashrom-1.4.0/erase-ignored-20-small-combined":                       {"unchanged", "write_failed"},
	"flashrom-1.4.0/erase-ignored-20-small-progress-combined":              {"unchanged", "write_failed"},
	"flashrom-1.4.0/erase-ignored-2052-full":                               {"success", "-"},
	"flashrom-1.4.0/erase-ignored-2052-small":                              {"unchanged", "write_failed"},
	"flashrom-1.4.0/erase-ignored-20d852-full":                             {"success", "-"},
	"flashrom-1.4.0/erase-ignored-20d852-small":                            {"unchanged", "write_failed"},
	"flashrom-1.4.0/erase-ignored-52-full":                                 {"success", "-"},
	"flashrom-1.4.0/erase-ignored-52-small":                                {"success", "-"},
	"flashrom-1.4.0/erase-ignored-52d8c760-full":                           {"unchanged", "write_failed"},
	"flashrom-1.4.0/erase-ignored-52d8c760-small":                          {"unknown_state", "write_failed"},
	"flashrom-1.4.0/erase-ignored-c760-full":                               {"unchanged", "write_failed"},
	"flashrom-1.4.0/erase-ignored-c760-small":                              {"success", "-"},
	"flashrom-1.4.0/erase-ignored-d8-full":                                 {"success", "-"},
	"flashrom-1.4.0/erase-ignored-d8-small":                                {"unknown_state", "write_failed"},
	"flashrom-1.4.0/erase-ignored-d8-small-combined":                       {"unknown_state", "write_failed"},
	"flashrom-1.4.0/erase-ignored-d8-small-progress-combined":              {"unknown_state", "write_failed"},
	"flashrom-1.4.0/erase-progress":                                        {"success", "-"},
	"flashrom-1.4.0/erase-refused-20-full":                                 {"success", "-"},
	"flashrom-1.4.0/erase-refused-20-small":                                {"success", "-"},
	"flashrom-1.4.0/erase-refused-2052-full":                               {"success", "-"},
	"flashrom-1.4.0/erase-refused-2052-small":                              {"success", "-"},
	"flashrom-1.4.0/erase-refused-20d852-full":                             {"success", "-"},
	"flashrom-1.4.0/erase-refused-20d852-small":                            {"success", "-"},
	"flashrom-1.4.0/erase-refused-52-full":                                 {"success", "-"},
	"flashrom-1.4.0/erase-refused-52-small":                                {"success", "-"},
	"flashrom-1.4.0/erase-refused-52d8c760-full":                           {"success", "-"},
	"flashrom-1.4.0/erase-refused-52d8c760-small":                          {"success", "-"},
	"flashrom-1.4.0/erase-refused-c760-full":                               {"success", "-"},
	"flashrom-1.4.0/erase-refused-c760-small":                              {"success", "-"},
	"flashrom-1.4.0/erase-refused-d8-full":                                 {"success", "-"},
	"flashrom-1.4.0/erase-refused-d8-small":                                {"success", "-"},
	"flashrom-1.4.0/flash-name":                                            {"success", "-"},
	"flashrom-1.4.0/flash-name-progress":                                   {"success", "-"},
	"flashrom-1.4.0/flash-size":                                            {"success", "-"},
	"flashrom-1.4.0/flash-size-progress":                                   {"success", "-"},
	"flashrom-1.4.0/help":                                                  {"success", "-"},
	"flashrom-1.4.0/image-size-mismatch":                                   {"failed", "image_size_mismatch"},
	"flashrom-1.4.0/image-size-mismatch-progress":                          {"failed", "image_size_mismatch"},
	"flashrom-1.4.0/missing-image-file":                                    {"failed", "usage_error"},
	"flashrom-1.4.0/missing-image-file-progress":                           {"failed", "usage_error"},
	"flashrom-1.4.0/probe":                                                 {"success", "-"},
	"flashrom-1.4.0/probe-progress":                                        {"success", "-"},
	"flashrom-1.4.0/program-ignored":                                       {"unknown_state", "verify_failed"},
	"flashrom-1.4.0/program-ignored-combined":                              {"unknown_state", "verify_failed"},
	"flashrom-1.4.0/program-ignored-progress":                              {"unknown_state", "verify_failed"},
	"flashrom-1.4.0/program-ignored-progress-combined":                     {"unknown_state", "verify_failed"},
	"flashrom-1.4.0/program-refused":                                       {"unknown_state", "bios_lock"},
	"flashrom-1.4.0/program-refused-combined":                              {"unknown_state", "bios_lock"},
	"flashrom-1.4.0/program-refused-progress":                              {"unknown_state", "bios_lock"},
	"flashrom-1.4.0/program-refused-progress-combined":                     {"unknown_state", "bios_lock"},
	"flashrom-1.4.0/read":                                                  {"success", "-"},
	"flashrom-1.4.0/read-progress":                                         {"success", "-"},
	"flashrom-1.4.0/slow-write":                                            {"success", "-"},
	"flashrom-1.4.0/slow-write-progress":                                   {"success", "-"},
	"flashrom-1.4.0/verify-mismatch":                                       {"failed", "verify_failed"},
	"flashrom-1.4.0/verify-mismatch-combined":                              {"failed", "verify_failed"},
	"flashrom-1.4.0/verify-mismatch-progress":                              {"failed", "verify_failed"},
	"flashrom-1.4.0/verify-mismatch-progress-combined":                     {"failed", "verify_failed"},
	"flashrom-1.4.0/verify-ok":                                             {"success", "-"},
	"flashrom-1.4.0/verify-ok-progress":                                    {"success", "-"},
	"flashrom-1.4.0/version":                                               {"success", "-"},
	"flashrom-1.4.0/write-changed":                                         {"success", "-"},
	"flashrom-1.4.0/write-changed-combined":                                {"success", "-"},
	"flashrom-1.4.0/write-changed-progress":                                {"success", "-"},
	"flashrom-1.4.0/write-changed-progress-combined":                       {"success", "-"},
	"flashrom-1.4.0/write-flash-contents":                                  {"success", "-"},
	"flashrom-1.4.0/write-flash-contents-progress":                         {"success", "-"},
	"flashrom-1.4.0/write-flash-contents-stale":                            {"success", "-"},
	"flashrom-1.4.0/write-flash-contents-stale-progress":                   {"success", "-"},
	"flashrom-1.4.0/write-identical":                                       {"success", "-"},
	"flashrom-1.4.0/write-identical-progress":                              {"success", "-"},
	"flashrom-1.4.0/write-noverify":                                        {"success", "-"},
	"flashrom-1.4.0/write-noverify-progress":                               {"success", "-"},
	"flashrom-1.4.0/write-small-change":                                    {"success", "-"},
	"flashrom-1.4.0/write-small-change-progress":                           {"success", "-"},
	"flashrom-1.7.0/bad-programmer-param":                                  {"failed", "usage_error"},
	"flashrom-1.7.0/bad-programmer-param-progress":                         {"failed", "usage_error"},
	"flashrom-1.7.0/chip-not-found":                                        {"failed", "chip_not_found"},
	"flashrom-1.7.0/chip-not-found-combined":                               {"failed", "chip_not_found"},
	"flashrom-1.7.0/chip-not-found-progress":                               {"failed", "chip_not_found"},
	"flashrom-1.7.0/chip-not-found-progress-combined":                      {"failed", "chip_not_found"},
	"flashrom-1.7.0/chip-not-found-write":                                  {"failed", "chip_not_found"},
	"flashrom-1.7.0/chip-not-found-write-progress":                         {"failed", "chip_not_found"},
	"flashrom-1.7.0/erase":                                                 {"success", "-"},
	"flashrom-1.7.0/erase-all-ignored":                                     {"unchanged", "write_failed"},
	"flashrom-1.7.0/erase-all-ignored-combined":                            {"unchanged", "write_failed"},
	"flashrom-1.7.0/erase-all-refused":                                     {"failed", "write_failed"},
	"flashrom-1.7.0/erase-all-refused-E":                                   {"failed", "write_failed"},
	"flashrom-1.7.0/erase-all-refused-E-progress":                          {"failed", "write_failed"},
	"flashrom-1.7.0/erase-all-refused-progress":                            {"failed", "write_failed"},
	"flashrom-1.7.0/erase-ignored-20-full":                                 {"success", "-"},
	"flashrom-1.7.0/erase-ignored-20-small":                                {"unchanged", "write_failed"},
	"flashrom-1.7.0/erase-ignored-20-small-combined":                       {"unchanged", "write_failed"},
	"flashrom-1.7.0/erase-ignored-2052-full":                               {"success", "-"},
	"flashrom-1.7.0/erase-ignored-2052-small":                              {"unchanged", "write_failed"},
	"flashrom-1.7.0/erase-ignored-20d852-full":                             {"success", "-"},
	"flashrom-1.7.0/erase-ignored-20d852-small":                            {"unchanged", "write_failed"},
	"flashrom-1.7.0/erase-ignored-52-full":                                 {"success", "-"},
	"flashrom-1.7.0/erase-ignored-52-small":                                {"success", "-"},
	"flashrom-1.7.0/erase-ignored-52d8c760-full":                           {"unchanged", "write_failed"},
	"flashrom-1.7.0/erase-ignored-52d8c760-small":                          {"unknown_state", "write_failed"},
	"flashrom-1.7.0/erase-ignored-c760-full":                               {"unchanged", "write_failed"},
	"flashrom-1.7.0/erase-ignored-c760-small":                              {"success", "-"},
	"flashrom-1.7.0/erase-ignored-d8-full":                                 {"success", "-"},
	"flashrom-1.7.0/erase-ignored-d8-small":                                {"unknown_state", "write_failed"},
	"flashrom-1.7.0/erase-ignored-d8-small-combined":                       {"unknown_state", "write_failed"},
	"flashrom-1.7.0/erase-ignored-d8-small-progress-combined":              {"unknown_state", "write_failed"},
	"flashrom-1.7.0/erase-progress":                                        {"success", "-"},
	"flashrom-1.7.0/erase-refused-20-full":                                 {"success", "-"},
	"flashrom-1.7.0/erase-refused-20-small":                                {"success", "-"},
	"flashrom-1.7.0/erase-refused-2052-full":                               {"success", "-"},
	"flashrom-1.7.0/erase-refused-2052-small":                              {"success", "-"},
	"flashrom-1.7.0/erase-refused-20d852-full":                             {"success", "-"},
	"flashrom-1.7.0/erase-refused-20d852-small":                            {"success", "-"},
	"flashrom-1.7.0/erase-refused-52-full":                                 {"success", "-"},
	"flashrom-1.7.0/erase-refused-52-small":                                {"success", "-"},
	"flashrom-1.7.0/erase-refused-52d8c760-full":                           {"success", "-"},
	"flashrom-1.7.0/erase-refused-52d8c760-small":                          {"success", "-"},
	"flashrom-1.7.0/erase-refused-c760-full":                               {"success", "-"},
	"flashrom-1.7.0/erase-refused-c760-small":                              {"success", "-"},
	"flashrom-1.7.0/erase-refused-d8-full":                                 {"success", "-"},
	"flashrom-1.7.0/erase-refused-d8-small":                                {"success", "-"},
	"flashrom-1.7.0/flash-name":                                            {"success", "-"},
	"flashrom-1.7.0/flash-name-progress":                                   {"success", "-"},
	"flashrom-1.7.0/flash-size":                                            {"success", "-"},
	"flashrom-1.7.0/flash-size-progress":                                   {"success", "-"},
	"flashrom-1.7.0/help":                                                  {"success", "-"},
	"flashrom-1.7.0/image-size-mismatch":                                   {"failed", "image_size_mismatch"},
	"flashrom-1.7.0/image-size-mismatch-progress":                          {"failed", "image_size_mismatch"},
	"flashrom-1.7.0/missing-image-file":                                    {"failed", "usage_error"},
	"flashrom-1.7.0/missing-image-file-progress":                           {"failed", "usage_error"},
	"flashrom-1.7.0/probe":                                                 {"success", "-"},
	"flashrom-1.7.0/probe-progress":                                        {"success", "-"},
	"flashrom-1.7.0/program-ignored":                                       {"unknown_state", "verify_failed"},
	"flashrom-1.7.0/program-ignored-combined":                              {"unknown_state", "verify_failed"},
	"flashrom-1.7.0/program-refused":                                       {"unknown_state", "bios_lock"},
	"flashrom-1.7.0/program-refused-combined":                              {"unknown_state", "bios_lock"},
	"flashrom-1.7.0/read":                                                  {"success", "-"},
	"flashrom-1.7.0/read-progress":                                         {"success", "-"},
	"flashrom-1.7.0/slow-write":                                            {"success", "-"},
	"flashrom-1.7.0/slow-write-progress":                                   {"success", "-"},
	"flashrom-1.7.0/verify-mismatch":                                       {"failed", "verify_failed"},
	"flashrom-1.7.0/verify-mismatch-combined":                              {"failed", "verify_failed"},
	"flashrom-1.7.0/verify-mismatch-progress":                              {"failed", "verify_failed"},
	"flashrom-1.7.0/verify-ok":                                             {"success", "-"},
	"flashrom-1.7.0/version":                                               {"success", "-"},
	"flashrom-1.7.0/write-changed":                                         {"success", "-"},
	"flashrom-1.7.0/write-changed-combined":                                {"success", "-"},
	"flashrom-1.7.0/write-changed-progress":                                {"success", "-"},
	"flashrom-1.7.0/write-flash-contents":                                  {"success", "-"},
	"flashrom-1.7.0/write-flash-contents-stale":                            {"success", "-"},
	"flashrom-1.7.0/write-identical":                                       {"success", "-"},
	"flashrom-1.7.0/write-noverify":                                        {"success", "-"},
	"flashrom-1.7.0/write-small-change":                                    {"success", "-"},
}

// TestFlasherTranscripts diagnoses every recorded run of every flasher
// version in testdata/flashers, as libreflash captures it (with its exit
// status) and as a user pastes it (the command line first, no exit status).
// Runs without an entry in transcriptWants (a set added later) are held to
// what holds for every run: the exit status and the outcome agree, a failure
// has a primary cause, a success none.
func TestFlasherTranscripts(t *testing.T) {
	sets, err := filepath.Glob(filepath.Join(testutil.Flashers(t, ""), "*"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, set := range sets {
		if name := filepath.Base(set); !strings.HasPrefix(name, "flashrom-") && !strings.HasPrefix(name, "flashprog-") {
			continue // another tool's runs (dell-flash-unlock)
		}
		cmds, _ := filepath.Glob(filepath.Join(set, "*.cmd"))
		for _, c := range cmds {
			base := strings.TrimSuffix(c, ".cmd")
			key := filepath.Base(set) + "/" + filepath.Base(base)
			seen[key] = true
			t.Run(key, func(t *testing.T) {
				log, errFirst, code, cmd := readTranscript(t, base)
				exp, known := transcriptWants[key]
				r := DiagnoseRun(log, code, Facts{})
				if len(r.Runs) != 1 {
					t.Errorf("%d runs, want 1: %+v", len(r.Runs), r.Runs)
				}
				p, failed := r.Primary()
				switch {
				case code == 0 && r.Outcome != Success:
					t.Errorf("exit 0, outcome %s", r.Outcome)
				case code != 0 && r.Outcome == Success:
					t.Errorf("exit %d, outcome success", code)
				case r.Outcome == Success && failed:
					t.Errorf("success with a primary cause %s", p.ID)
				case r.Outcome != Success && r.Outcome != Incomplete && !failed:
					t.Errorf("%s without a primary cause\n%s", r.Outcome, dump(r))
				}
				if !known {
					t.Logf("no expectation for %s: %s %s", key, r.Outcome, p.ID)
					return
				}
				w := want{outcome: exp[0], cause: exp[1]}
				check(t, "captured", w, r)
				if errFirst != nil {
					// stderr ahead of stdout, as a flasher whose stdout
					// is buffered in a pipe prints them: the same run.
					check(t, "stderr first", w, DiagnoseRun(errFirst, code, Facts{}))
				}
				if cmd == "" || Diagnose(log, Facts{}).Outcome == Incomplete {
					return // only the exit status says how it ended (--help, --version)
				}
				// Pasted with its command line: the same diagnosis (a "$"
				// prompt ranks the EPERM candidates, which facts decide),
				// and the operation the command names.
				pasted := Diagnose(append([]byte("$ "+cmd+"\n"), log...), Facts{})
				if !NeedsFacts(w.cause) {
					check(t, "pasted", w, pasted)
				}
				if op := cmdOperation(cmd); len(pasted.Runs) != 1 || pasted.Runs[0].Operation != op {
					t.Errorf("pasted: runs %+v, want one %s", pasted.Runs, op)
				}
			})
		}
	}
	for key := range transcriptWants {
		if !seen[key] {
			t.Errorf("%s: expected, but no such transcript", key)
		}
	}
}

// readTranscript returns a recorded run's output (stdout then stderr, or
// both as captured together), stderr then stdout where they were captured
// apart, its exit status and its command line.
func readTranscript(t *testing.T, base string) (log, errFirst []byte, code int, cmd string) {
	t.Helper()
	if b, err := os.ReadFile(base + ".combined"); err == nil {
		log = b
	} else {
		out, err1 := os.ReadFile(base + ".stdout")
		errb, err2 := os.ReadFile(base + ".stderr")
		if err1 != nil && err2 != nil {
			t.Fatalf("no output: %v", err1)
		}
		log = append(append([]byte{}, out...), errb...)
		errFirst = append(append([]byte{}, errb...), out...)
	}
	e, err := os.ReadFile(base + ".exit")
	if err != nil {
		t.Fatal(err)
	}
	if code, err = strconv.Atoi(string(bytes.TrimSpace(e))); err != nil {
		t.Fatal(err)
	}
	c, err := os.ReadFile(base + ".cmd")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(c), "\n") {
		for _, p := range []string{"$ ", "command: "} {
			if rest, ok := strings.CutPrefix(l, p); ok {
				cmd, _, _ = strings.Cut(rest, "  (")
				return log, errFirst, code, strings.TrimSpace(cmd)
			}
		}
	}
	return log, errFirst, code, ""
}

// cmdOperation is the operation a flasher command line asks for.
func cmdOperation(cmd string) string {
	op := OpProbe
	for _, a := range strings.Fields(cmd) {
		switch a {
		case "-r", "--read":
			op = OpRead
		case "-w", "--write":
			op = OpWrite
		case "-v", "--verify":
			op = OpVerify
		case "-E", "--erase":
			op = OpErase
		}
	}
	return op
}
