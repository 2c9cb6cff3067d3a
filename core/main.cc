#include "reactor/base/ids.h"
int main() { return 0; }
