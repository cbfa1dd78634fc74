// Target under construction; replaced by its real sources.
