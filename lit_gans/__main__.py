from lit_gans.cli import console

if __name__ == "__main__":
    console()
