// `import "tidelog/sync"`: loads the sync side up front (service workers); exports nothing.
export {};
