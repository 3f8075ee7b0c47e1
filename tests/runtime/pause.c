/* The sandbox ("pause") process of the runtime test's tiny image: sleeps until told to stop. */
#include <signal.h>
#include <unistd.h>

static void quit(int sig) {
    (void)sig;
    _exit(0);
}

int main(void) {
    signal(SIGTERM, quit);
    signal(SIGINT, quit);
    for (;;)
        pause();
}
