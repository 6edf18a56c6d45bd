def plot_overview(frame, path, title=''):
    raise NotImplementedError
