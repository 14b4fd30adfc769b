// errors.glsl — how a kernel reports bad data (an index out of range) without the
// host reading anything back: binding 7 is its error slot (host/vk/vk.h), four uints
// that start at 0xffffffff; ember_report(pos) keeps the lowest offending position, and
// the host turns it into the cpu kernel's error at the next wait for the device.
layout(std430, binding = 7) buffer EmberErrors { uint ember_error_words[4]; };

void ember_report(uint pos) { atomicMin(ember_error_words[0], pos); }
