from .cli import main

if __name__ == "__main__":  # a process pool's worker (spawn, on Windows) imports this module too
    main(prog_name="xltools")
