/* Deterministic synthetic firmware for the built-in images. Nobody's real code
 * ships with bcsim; instead each model gets a generated firmware that looks
 * like one to a delta tool: functions of instruction-like words calling each
 * other by absolute address, a vector table, strings. A later generation
 * edits, inserts and removes functions, so everything after an insertion moves
 * and every call into moved code changes, as in a real firmware update. */
#ifndef BCSIM_SYNTH_H
#define BCSIM_SYNTH_H

#include <stddef.h>
#include <stdint.h>

/* Writes the payload of generation `generation` of lineage `seed` into out;
 * `banner` is embedded as a string. Returns the size, or 0 if `size` is too
 * small or memory runs out. The same arguments always give the same bytes. */
size_t synth_firmware(uint32_t seed, unsigned generation, const char *banner, uint8_t *out,
                      size_t size);

#endif
